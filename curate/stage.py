"""The stage contract.

A stage does one job over Arrow tables. It never drops or reorders rows itself:
it returns every row it was given, in the same order, and marks the rows that
should leave the pipeline with a reason (see :func:`mark_drops`). The runner
moves marked rows to the dropped-documents table and owns Ray, batching,
checkpoints, manifests and progress.

Two kinds of stage:

* :class:`MapStage` sees one batch at a time (``process_batch``). It may add or
  change columns. Use it for anything decided document by document.
* :class:`GlobalStage` needs the whole data set (deduplication, reordering). It
  receives a Ray Dataset and returns either *marks* (``_order`` plus drop
  columns and any new columns, only for the rows it changes; the runner merges
  them into the documents, so texts are never shuffled) or the whole Dataset
  with the same rows, marked.

Stages are plain classes: ``LengthFilter(min_words=5).process_batch(table)``
works without Ray or the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

# Columns a stage sets on rows that must leave the pipeline.
DROP_REASON = "_drop_reason"
DROP_DETAIL = "_drop_detail"
DUPLICATE_OF = "_duplicate_of"
DROP_COLUMNS = (DROP_REASON, DROP_DETAIL, DUPLICATE_OF)
# Internal global position of a document (input file index and record number);
# the runner uses it to keep output order deterministic. Stages pass it through.
ORDER = "_order"


class StageParams(BaseModel):
    """Base of every stage's parameters: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs from Ray.

    ``concurrency`` is the size of the actor pool for stages with a ``setup``
    (a model loaded once per actor); ``None`` lets Ray scale stateless tasks.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    concurrency: int | None = None


class Stage:
    """Common base: a name, typed parameters and declared resources."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    Params: ClassVar[type[StageParams]] = StageParams
    resources: ClassVar[Resources] = Resources()

    def __init__(self, params: StageParams | None = None, **kwargs: Any) -> None:
        if params is not None and kwargs:
            raise TypeError("pass either a Params object or keyword arguments, not both")
        self.params = params if params is not None else self.Params(**kwargs)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"


class MapStage(Stage):
    """A stage decided batch by batch."""

    kind = "map"
    #: True when ``setup`` is expensive (a model): the runner then uses an actor pool.
    stateful: ClassVar[bool] = False
    #: Rows per batch handed to ``process_batch``.
    batch_size: ClassVar[int] = 1024

    def setup(self) -> None:
        """Load what the stage needs once per worker (models, tables)."""

    def process_batch(self, batch: pa.Table) -> pa.Table:
        """Return ``batch`` with the same rows in the same order, drops marked."""
        raise NotImplementedError


@dataclass
class GlobalResult:
    """A global stage's output and numbers for the manifest.

    Give ``marks``: a Dataset with ``_order`` and the columns to set (drop
    columns, annotations) for the rows that change; other rows keep nulls there.
    Or give ``dataset``: every input row, in any order, marked.
    """

    stats: dict[str, Any]
    marks: ray.data.Dataset | None = None
    dataset: ray.data.Dataset | None = None

    def __post_init__(self) -> None:
        if (self.marks is None) == (self.dataset is None):
            raise ValueError("a GlobalResult carries exactly one of marks or dataset")


class GlobalStage(Stage):
    """A stage that needs the whole data set at once."""

    kind = "global"

    def run(self, dataset: ray.data.Dataset) -> GlobalResult:
        """Decide over the whole data set; see :class:`GlobalResult`."""
        raise NotImplementedError


def mark_drops(
    table: pa.Table,
    mask: np.ndarray | pa.Array | pa.ChunkedArray,
    reason: str | pa.Array | np.ndarray,
    detail: str | pa.Array | np.ndarray | list | None = None,
    duplicate_of: pa.Array | np.ndarray | list | None = None,
) -> pa.Table:
    """Mark rows where ``mask`` is true as dropped with ``reason``.

    Rows already marked by an earlier call keep their first reason. ``reason``,
    ``detail`` and ``duplicate_of`` may be scalars or per-row arrays (only the
    masked rows' values are used).
    """
    n = table.num_rows
    mask_np = _to_bool(mask, n)
    previous = _column_or_nulls(table, DROP_REASON)
    new_mask = mask_np & ~np.asarray(pc.is_valid(previous), dtype=bool)
    if not new_mask.any():
        return _ensure_drop_columns(table)
    table = _ensure_drop_columns(table)
    mask_arr = pa.array(new_mask)
    for column, value in ((DROP_REASON, reason), (DROP_DETAIL, detail), (DUPLICATE_OF, duplicate_of)):
        if value is None:
            continue
        if isinstance(value, str):
            values = pa.array([value] * n, pa.string())
        elif isinstance(value, (pa.Array, pa.ChunkedArray)):
            values = value.cast(pa.string())
        else:
            values = pa.array(value, pa.string())
        merged = pc.if_else(mask_arr, values, table.column(column))
        table = table.set_column(table.schema.get_field_index(column), column, merged)
    return table


def drop_mask(table: pa.Table) -> np.ndarray:
    """Boolean array: which rows are marked as dropped."""
    if DROP_REASON not in table.column_names:
        return np.zeros(table.num_rows, dtype=bool)
    return np.asarray(pc.is_valid(table.column(DROP_REASON)), dtype=bool)


def _ensure_drop_columns(table: pa.Table) -> pa.Table:
    for column in DROP_COLUMNS:
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
    return table


def _column_or_nulls(table: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    if name in table.column_names:
        return table.column(name)
    return pa.nulls(table.num_rows, pa.string())


def _to_bool(mask: Any, n: int) -> np.ndarray:
    if isinstance(mask, (pa.Array, pa.ChunkedArray)):
        mask = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
    out = np.asarray(mask, dtype=bool)
    if out.shape != (n,):
        raise ValueError(f"drop mask has shape {out.shape}, expected ({n},)")
    return out
