"""The data between steps: a base of checkpoint parts plus layers of marks.

A step that rewrites rows (a map chain, a model, expand or order stage) writes
a new *generation*: parts holding every row it saw, its drops marked with
``_drop_stage``. A global stage adds a *layer* of marks on top of the current
generation instead of copying it. Reading a part applies its generation's
layers in order, so the next step, the output writer and the dropped-documents
table all see the same rows.

Invariant: within a generation, rows are sorted by ``_order`` and part ``i``
holds orders in ``[start_i, start_{i+1})``, its start being its file name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.engine import features as features_io
from curate.engine import marks as marks_io
from curate.io import atomic, checkpoint
from curate.stage import DROP_COLUMNS, DROP_REASON, DROP_STAGE, ORDER


@dataclass
class Layer:
    """One global stage's marks.

    With ``override``, the marks also replace the drops of stages that ran
    before them in the same step (repeated ids, attributed to ``read``).
    """

    stage: str
    folder: str
    defaults: dict[str, Any] = field(default_factory=dict)
    override: bool = False

    def files(self) -> list[str]:
        return checkpoint.part_files(self.folder)


@dataclass
class LayerFiles:
    """A layer's mark files that fall in one part's range."""

    stage: str
    defaults: dict[str, Any]
    files: list[str]
    override: bool = False


@dataclass
class PartView:
    """One base part with the mark files of each layer that fall in its range (picklable, for Ray tasks)."""

    path: str
    low: int
    high: int | None
    layers: list[LayerFiles]

    @property
    def name(self) -> str:
        return f"{self.low:020d}"


@dataclass
class Generation:
    folder: str
    layers: list[Layer] = field(default_factory=list)

    def parts(self) -> list[str]:
        return checkpoint.part_files(self.folder)

    def views(self) -> list[PartView]:
        parts = self.parts()
        starts = [checkpoint.first_order(path) for path in parts]
        layer_files = [(layer, layer.files()) for layer in self.layers]
        views = []
        for i, path in enumerate(parts):
            low, high = starts[i], starts[i + 1] if i + 1 < len(parts) else None
            views.append(PartView(path, low, high, [
                LayerFiles(layer.stage, layer.defaults, marks_io.overlapping(files, low, high), layer.override)
                for layer, files in layer_files]))
        return views


def read_view(view: PartView, *, kept_only: bool = True, columns: list[str] | None = None) -> pa.Table:
    """A part with its layers applied: kept rows only (drop columns removed), or every row, marked."""
    read_columns = None if columns is None else list(dict.fromkeys([*columns, ORDER, DROP_REASON]))
    schema_names = atomic.read_schema(view.path).names
    wanted_features = [c for c in columns or [] if c.startswith(features_io.PREFIX)]
    if read_columns is not None:
        read_columns = [c for c in read_columns if c in schema_names]
    table = features_io.attach(atomic.read_table(view.path, columns=read_columns), view.path, wanted_features)
    table = _in_range(table, view.low, view.high)
    if kept_only:
        table = _kept(table)
    for layer in view.layers:
        wanted = None if columns is None else [*columns, DROP_REASON, DROP_STAGE]
        layer_marks = marks_io.read_range(layer.files, view.low, view.high, wanted)
        if kept_only:
            table, _ = marks_io.apply(table, layer_marks, layer.stage, layer.defaults)
            table = _kept(table)
        elif layer.override:
            table = _apply_override(table, layer_marks, layer.stage)
        else:
            table = _apply_to_kept(table, layer_marks, layer.stage, layer.defaults)
    if columns is not None:
        table = table.select([c for c in columns if c in table.column_names])
    return table


def _in_range(table: pa.Table, low: int, high: int | None) -> pa.Table:
    """The rows of ``[low, high)``: all of a whole part, the share of a part split into pieces."""
    orders = table.column(ORDER)
    inside = pc.greater_equal(orders, low)
    if high is not None:
        inside = pc.and_(inside, pc.less(orders, high))
    return table if pc.all(inside).as_py() is not False else table.filter(inside)


def split(view: PartView, pieces: int) -> list[PartView]:
    """``view`` cut into up to ``pieces`` views of about as many kept rows, by ``_order``, over the same file."""
    orders = read_view(view, columns=[ORDER]).column(ORDER).to_numpy()
    pieces = min(pieces, len(orders))
    if pieces < 2:
        return [view]
    cuts = [int(orders[i * len(orders) // pieces]) for i in range(1, pieces)]
    highs: list[int | None] = [*cuts, view.high]
    return [PartView(view.path, low, high, view.layers) for low, high in zip([view.low, *cuts], highs)]


def count_matches(view: PartView) -> int:
    """How many marks of the part's newest layer name a row that is kept before that layer."""
    earlier = PartView(view.path, view.low, view.high, view.layers[:-1])
    table = read_view(earlier, columns=[ORDER])
    layer = view.layers[-1]
    layer_marks = marks_io.read_range(layer.files, view.low, view.high, [ORDER])
    _, matched = marks_io.apply(table, layer_marks, layer.stage, {})
    return matched


def _kept(table: pa.Table) -> pa.Table:
    if DROP_REASON in table.column_names:
        table = table.filter(pc.is_null(table.column(DROP_REASON)))
    return table.drop_columns([c for c in (*DROP_COLUMNS, DROP_STAGE) if c in table.column_names])


def _apply_to_kept(table: pa.Table, layer_marks: pa.Table | None, stage: str, defaults: dict[str, Any]) -> pa.Table:
    dropped = table.filter(pc.is_valid(table.column(DROP_REASON))) if DROP_REASON in table.column_names else None
    kept, _ = marks_io.apply(_kept(table), layer_marks, stage, defaults)
    if dropped is None or dropped.num_rows == 0:
        return kept
    return pa.concat_tables([kept, dropped], promote_options="permissive").sort_by(ORDER)


def _apply_override(table: pa.Table, layer_marks: pa.Table | None, stage: str) -> pa.Table:
    """Apply marks to every row not dropped by ``stage`` itself, replacing other stages' drops."""
    own = pc.fill_null(pc.equal(table.column(DROP_STAGE), stage), False) if DROP_STAGE in table.column_names \
        else pa.array([False] * table.num_rows)
    marked, _ = marks_io.apply(table.filter(pc.invert(own)), layer_marks, stage, {})
    return pa.concat_tables([marked, table.filter(own)], promote_options="permissive").sort_by(ORDER)


def _per_view(batch: pa.Table, views: list[PartView], fn: Callable[..., pa.Table], kwargs: dict[str, Any]
              ) -> Iterator[pa.Table]:
    for index in batch.column("index").to_pylist():
        table = fn(views[index], **kwargs)
        if table.num_rows:
            yield table


def over_views(views: list[PartView], fn: Callable[..., pa.Table], **kwargs: Any) -> Any:
    """A Ray Dataset of ``fn(view, **kwargs)`` for every part view, one task per part, in document order."""
    import ray.data

    if not views:
        return ray.data.from_arrow(pa.table({ORDER: pa.array([], pa.int64())}))
    ds = ray.data.from_items([{"index": i} for i in range(len(views))], override_num_blocks=len(views))
    return ds.map_batches(_per_view, fn_kwargs={"views": views, "fn": fn, "kwargs": kwargs}, batch_size=1,
                          batch_format="pyarrow")


def local_tables(views: list[PartView], fn: Callable[..., pa.Table], max_rows: int,
                 **kwargs: Any) -> list[pa.Table] | None:
    """``fn(view, **kwargs)`` for every view, computed in this process, when the views' parts hold at most
    ``max_rows`` rows in all (counted from the Parquet footers); None for larger generations, which go
    through :func:`over_views`. A Ray Data job costs seconds to start, more than reading a few columns of
    a small run's parts."""
    paths = sorted({view.path for view in views})
    if sum(atomic.parquet_file(path).metadata.num_rows for path in paths) > max_rows:
        return None
    return [table for table in (fn(view, **kwargs) for view in views) if table.num_rows]


def dataset(generation: Generation, columns: list[str] | None = None) -> Any:
    """The kept rows of a generation as a Ray Dataset, in document order, one read task per part."""
    return over_views(generation.views(), read_view, columns=columns)
