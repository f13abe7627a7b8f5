"""The stage contract.

A stage does one job over Arrow tables. It never removes rows itself: it
returns every row it was given and marks the rows that should leave the
pipeline with a reason (see :func:`curate.tables.mark_drops`). The runner
moves marked rows to the dropped-documents table and owns Ray, batching,
checkpoints, manifests and progress (see ``curate.engine``).

Four kinds of stage, told apart by ``kind``:

* ``map`` (:class:`MapStage`): ``process_batch(table)`` sees one batch at a
  time and returns the same rows in the same order, possibly with new or
  changed columns, and optionally statistics for the manifest. Consecutive
  map stages run fused in one pass over the data.
* ``global`` (:class:`GlobalStage`): ``run(dataset)`` sees the whole data set
  (a Ray Dataset) and returns *marks*: ``_order`` plus the columns to set,
  only for the rows it changes. Texts are never moved.
* ``expand`` (:class:`ExpandStage`): ``process_batch(table)`` returns the same
  rows (marked as usual) plus new rows, each with an ``id`` and the
  ``parent_id`` of the row it came from; new rows are written right after
  their parent.
* ``order`` (:class:`OrderStage`): ``run(dataset)`` returns a sort key for
  every row (and optionally a group column, e.g. ``context_id``, that output
  shards never split); the output is written in that order.

One rule decides where batches run: a stage that loads a model is a
:class:`ModelStage` (``class Embed(ModelStage, MapStage[EmbedParams])``, or
with :class:`ExpandStage`): it runs in a Ray actor pool, one model per actor,
and is checkpointed on its own; every other map or expand stage runs as Ray
tasks. A stage that needs steps of more than one kind (a score per document,
then a cut over all scores) lists them in :meth:`Stage.decompose`.

Stages are plain classes: ``LengthFilter(min_words=5).process_batch(table)``
works without Ray or the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar, cast

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

# Columns a stage sets on rows that must leave the pipeline.
DROP_REASON = "_drop_reason"
DROP_DETAIL = "_drop_detail"
DUPLICATE_OF = "_duplicate_of"
DROP_COLUMNS = (DROP_REASON, DROP_DETAIL, DUPLICATE_OF)
# The stage that marked a row; set by the runner, not by stages.
DROP_STAGE = "_drop_stage"
# Internal position of a row: unique, and rows are always kept sorted by it.
# Stages pass it through (see curate.documents for its layout).
ORDER = "_order"
# Provenance columns of rows an expand stage creates.
PARENT_ID = "parent_id"
CREATED_BY = "created_by"

Stats = dict[str, Any]


class StageParams(BaseModel):
    """Base of every stage's parameters: unknown names are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Resources:
    """What one worker of a stage needs from Ray.

    ``concurrency`` is the size of a model stage's actor pool; ``None`` sizes it
    from the cluster's resources.
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    concurrency: int | None = None


P = TypeVar("P", bound=StageParams)


class Stage(Generic[P]):
    """Common base: a name, a kind, typed parameters (``Stage[P]``: ``self.params`` is a ``P``)."""

    #: The name used in pipelines, manifests and ``_drop_stage``.
    name: str = ""
    kind: ClassVar[str] = ""
    Params: ClassVar[type[StageParams]] = StageParams
    params: P

    def __init__(self, params: P | None = None, **kwargs: Any) -> None:
        if params is not None and kwargs:
            raise TypeError("pass either a Params object or keyword arguments, not both")
        self.params = params if params is not None else cast(P, self.Params(**kwargs))

    @property
    def resources(self) -> Resources:
        """Resources per worker of a stage that runs batches on Ray workers (see :class:`BatchStage`)."""
        return Resources()

    def decompose(self) -> list[Stage[Any]]:
        """The steps this stage runs as: itself, unless it needs steps of more than one kind.

        A classifier with a percentile cut is a map step that scores every
        document and a global step that cuts at the percentile of all scores.
        Each step's kind is fixed by its class; parameters only decide whether
        the later steps are needed. The steps keep this stage's name, share its
        position in the pipeline and its one record in the manifest.
        """
        return [self]

    def model_files(self) -> tuple[str, ...]:
        """Files the stage reads besides its code (a model given by path): their contents enter the checkpoint
        fingerprint, so replacing a model file recomputes the stage instead of resuming it."""
        return ()

    def working_columns(self) -> tuple[str, ...]:
        """Columns the stage writes only for later stages (e.g. embeddings); the output shards leave them out."""
        return ()

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        """The stage's statistics for the manifest, from the sums of what its batches reported.

        Override to add what cannot be summed (ratios, means).
        """
        return stats

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"


def declared_resources(params: StageParams) -> Resources:
    """Resources from ``num_cpus`` / ``num_gpus`` / ``concurrency`` parameters, where a stage has them."""
    return Resources(num_cpus=float(getattr(params, "num_cpus", 1.0)),
                     num_gpus=float(getattr(params, "num_gpus", None) or 0.0),
                     concurrency=getattr(params, "concurrency", None))


class BatchStage(Stage[P]):
    """Map and expand stages: ``process_batch`` sees one batch at a time, on Ray workers."""

    #: Rows per batch handed to ``process_batch``.
    batch_size: ClassVar[int] = 4096

    @property
    def resources(self) -> Resources:
        """From ``num_cpus`` / ``num_gpus`` / ``concurrency`` parameters (defaults without them); a stage may
        override it (e.g. from an LM backend's needs)."""
        return declared_resources(self.params)

    def setup(self) -> None:
        """Load what the stage needs once per worker (tables, small models; a large one makes a ModelStage)."""

    def prepare(self, dataset: ray.data.Dataset) -> None:
        """Optionally look at the whole input once, on the driver, before any batch.

        For decisions that need every document but no model (e.g. choosing a
        deterministic subset); store the result on ``self``, which is shipped
        to every worker.
        """


class MapStage(BatchStage[P]):
    """A stage decided batch by batch; consecutive map stages run fused."""

    kind = "map"

    def process_batch(self, batch: pa.Table) -> pa.Table | tuple[pa.Table, Stats]:
        """Return ``batch`` with the same rows in the same order, drops marked.

        Optionally return ``(table, stats)``: numbers (or nested dicts of
        numbers) that the runner sums over all batches into the manifest.
        """
        raise NotImplementedError


class ModelStage(BatchStage[P]):
    """A batch stage that loads a model: one model per Ray actor, loaded once in ``setup``.

    Combined with the kind it runs as: ``class Embed(ModelStage, MapStage[EmbedParams])``
    or ``class EntiGraph(ModelStage, ExpandStage[EntiGraphParams])``. The
    runner gives it an actor pool of ``resources.concurrency`` actors (by
    default as many as the cluster's free resources allow) and a checkpoint of
    its own, resumed part by part. Subclasses set ``resources`` from their
    parameters (e.g. GPUs for a vLLM backend) by overriding :attr:`resources`
    or by declaring ``num_cpus`` / ``num_gpus`` / ``concurrency`` parameters.
    """

    batch_size: ClassVar[int] = 64


@dataclass
class GlobalResult:
    """A global stage's decisions and numbers for the manifest.

    ``marks`` is a Ray Dataset with ``_order`` and the columns to set (drop
    columns, annotations) for the rows that change, at most one mark per row.
    Rows without a mark get ``defaults`` in columns the marks add (null unless
    given); columns they already had keep their values.
    """

    marks: ray.data.Dataset
    stats: Stats = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)


class GlobalStage(Stage[P]):
    """A stage that needs the whole data set at once; it returns marks."""

    kind = "global"
    #: The columns ``run`` reads (None: all of them); fewer columns, less I/O. A stage with ``features`` gets
    #: only these when its features were computed earlier, and every column when it computes them itself.
    columns: tuple[str, ...] | None = None

    def features(self, batch: pa.Table) -> dict[str, pa.Array] | None:
        """Optional per-document values ``run`` needs, named with a leading ``_`` (e.g. a text hash).

        When the stage follows a map chain, the runner computes them in that
        chain's pass, while the texts are in memory, and ``run`` finds them as
        columns of its dataset; otherwise they are absent and ``run`` computes
        them itself.
        """
        return None

    def run(self, dataset: ray.data.Dataset) -> GlobalResult:
        """Decide over the whole data set; see :class:`GlobalResult`."""
        raise NotImplementedError


@dataclass
class ExpandResult:
    """What an expand stage returns for one batch.

    ``batch``: the input rows, same order, drops marked. ``created``: new rows,
    each with ``id`` (unique and deterministic, so a re-run makes the same
    rows), ``parent_id`` (the id of a row of ``batch``) and ``text``; other
    columns are optional. The runner places them right after their parent in
    the order they are given and adds ``created_by``.
    """

    batch: pa.Table
    created: pa.Table
    stats: Stats = field(default_factory=dict)


class ExpandStage(BatchStage[P]):
    """A stage that creates rows (synthetic text, splits); checkpointed on its own."""

    kind = "expand"
    batch_size: ClassVar[int] = 64

    def process_batch(self, batch: pa.Table) -> ExpandResult:
        raise NotImplementedError


@dataclass
class OrderResult:
    """An order stage's decision.

    ``keys`` is a Ray Dataset with ``_order`` and ``key`` (any sortable
    column) for every row the stage saw, plus optional annotation columns and
    drop columns (``_drop_reason``, ... for rows the stage removes, e.g.
    near-duplicates). Rows are written sorted by ``key`` (ties by their
    previous order). With
    ``group_column`` (one of the annotation columns, e.g. ``context_id``), rows
    of one group are never split across output shards.
    """

    keys: ray.data.Dataset
    group_column: str | None = None
    stats: Stats = field(default_factory=dict)


ORDER_KEY = "key"


class OrderStage(Stage[P]):
    """A stage that sets the output order (e.g. related documents together)."""

    kind = "order"

    def run(self, dataset: ray.data.Dataset) -> OrderResult:
        raise NotImplementedError



class FilterParams(StageParams):
    """Parameters every score-then-decide filter shares."""

    mode: Literal["drop", "annotate"] = Field(
        "drop", description="drop: mark failing documents for removal; annotate: only write the measured columns "
                            "and the reason they would be dropped (column <stage>_reason), keep every document.")
