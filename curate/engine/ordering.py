"""An order stage's decision carried out: rows rewritten in the new order.

The stage returns a sort key per row, and may mark rows dropped (drop
columns in its keys, e.g. semantic near-duplicates); those keep a place in
the new generation, marked, so they reach the dropped-documents table. Keys are ranked (ties by previous
order) on the driver; each row's new ``_order`` is its rank shifted by
``SUB_BITS``, so expand stages after it can still place rows after their
parents. Then the rows, texts included, are sorted into a new generation:
the only stage kind that moves texts, because setting the order is its job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.documents import SUB_BITS
from curate.engine import marks as marks_io
from curate.engine.snapshot import Generation, PartView, over_views, read_view
from curate.errors import StageError
from curate.io import checkpoint, storage
from curate.stage import DROP_REASON, ORDER, ORDER_KEY, OrderResult, Stage
from curate.tables import ensure_drop_columns

NEW_ORDER = "_new_order"


def ranked(stage: Stage, result: Any, expected: int) -> pa.Table:
    """``_order`` -> new ``_order`` plus the stage's annotations, sorted by the old ``_order``."""
    import ray

    if not isinstance(result, OrderResult):
        raise StageError(f"order stage {stage.name!r} returned {type(result).__name__}, expected an OrderResult")
    blocks = ray.get(result.keys.to_arrow_refs())
    keys = pa.concat_tables(blocks, promote_options="permissive") if blocks else pa.table({})
    for column in (ORDER, ORDER_KEY):
        if column not in keys.column_names:
            raise StageError(f"order stage {stage.name!r}: keys need columns {ORDER!r} and {ORDER_KEY!r}")
    if result.group_column and result.group_column not in keys.column_names:
        raise StageError(f"order stage {stage.name!r}: group column {result.group_column!r} is not in its keys")
    orders = keys.column(ORDER).to_numpy()
    if keys.num_rows != expected or len(np.unique(orders)) != keys.num_rows:
        raise StageError(f"order stage {stage.name!r} gave {keys.num_rows} keys "
                         f"({len(np.unique(orders))} distinct rows) for {expected} rows: every row needs exactly one")
    by_key = pc.sort_indices(keys, sort_keys=[(ORDER_KEY, "ascending"), (ORDER, "ascending")])
    rank = np.empty(keys.num_rows, dtype=np.int64)
    rank[by_key.to_numpy()] = np.arange(keys.num_rows, dtype=np.int64)
    keys = keys.drop_columns([ORDER_KEY]).append_column(NEW_ORDER, pa.array(rank << SUB_BITS))
    return keys.sort_by(ORDER)


def _renumber(view: PartView, keys: Any, stage: str) -> pa.Table:
    """The part's kept rows with the order stage's annotations and their new ``_order``."""
    import ray

    keys = ray.get(keys) if not isinstance(keys, pa.Table) else keys
    table = read_view(view)
    if table.num_rows == 0:
        return table
    low = table.column(ORDER)[0].as_py()
    high = table.column(ORDER)[-1].as_py()
    in_range = keys.filter(pc.and_(pc.greater_equal(keys.column(ORDER), low), pc.less_equal(keys.column(ORDER), high)))
    table, matched = marks_io.apply(table, in_range, stage, {})
    if matched != table.num_rows:
        raise StageError(f"order stage {stage!r} left rows without a key")
    new_order = table.column(NEW_ORDER)
    table = table.drop_columns([ORDER, NEW_ORDER])
    if DROP_REASON in table.column_names:
        table = ensure_drop_columns(table)
    return table.append_column(ORDER, new_order)


def write_ordered(generation: Generation, keys: pa.Table, folder: str, part_rows: int, stage: str) -> None:
    """Rows of ``generation`` in their new order, as the parts of a new generation in ``folder``."""
    import ray

    checkpoint.reset(folder)
    storage.makedirs(folder)
    views = generation.views()
    if not views:
        return
    renumbered = over_views(views, _renumber, keys=ray.put(keys), stage=stage)
    renumbered.sort(ORDER).write_datasink(checkpoint.CheckpointSink(folder, part_rows))
