"""Repeated ids: the first occurrence keeps its id, later ones are quarantined by ``read``.

Run after the first step, over the rows the reader accepted (whether or not a
fused stage dropped them later); only rows still kept are marked, as a layer
of marks attributed to ``read``.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.documents import position_of
from curate.engine import snapshot
from curate.engine.errors import execute
from curate.engine.marks import write_marks
from curate.grouping import KEPT, later_duplicates
from curate.io.reader import InputError
from curate.stage import DROP_DETAIL, DROP_REASON, DROP_STAGE, ORDER

READ = "read"
FOLDER = "_ids"


def position(order: int, names: list[str]) -> str:
    """``file:line`` of an input document from its ``_order``."""
    file_index, record = position_of(order)
    return f"{names[file_index]}:{record}"


def _accepted(batch: pa.Table) -> pa.Table:
    """Rows the reader accepted, with whether a later stage of the chain dropped them."""
    stage = batch.column(DROP_STAGE) if DROP_STAGE in batch.column_names else pa.nulls(batch.num_rows, pa.string())
    accepted = pc.fill_null(pc.not_equal(stage, READ), True)
    batch = batch.filter(accepted)
    alive = pc.is_null(batch.column(DROP_REASON)) if DROP_REASON in batch.column_names else pa.array(
        [True] * batch.num_rows)
    return pa.table({"id": batch.column("id"), ORDER: batch.column(ORDER), "_alive": alive})


def _marks(batch: pa.Table, names: list[str]) -> pa.Table:
    batch = batch.filter(batch.column("_alive"))
    detail = [f"id {i!r} already used at {position(k, names)}"
              for i, k in zip(batch.column("id").to_pylist(), batch.column(KEPT).to_pylist())]
    return pa.table({ORDER: batch.column(ORDER), DROP_REASON: pa.array(["duplicate_id"] * batch.num_rows, pa.string()),
                     DROP_DETAIL: pa.array(detail, pa.string())})


def _all_rows(batch: pa.Table, views: list[snapshot.PartView]) -> Any:
    for index in batch.column("index").to_pylist():
        table = snapshot.read_view(views[index], kept_only=False, columns=["id", ORDER, DROP_REASON, DROP_STAGE])
        if table.num_rows:
            yield _accepted(table)


def repeated_id_layer(generation: snapshot.Generation, folder: str, names: list[str], strict: bool,
                      part_rows: int) -> snapshot.Layer | None:
    """Write the marks for repeated ids under ``folder/_ids``; None when every id is unique."""
    import ray.data

    views = generation.views()
    if not views:
        return None
    items = ray.data.from_items([{"index": i} for i in range(len(views))], override_num_blocks=len(views))
    keys = items.map_batches(_all_rows, fn_kwargs={"views": views}, batch_size=1, batch_format="pyarrow")
    later, clusters, _ = execute(lambda: later_duplicates(keys, "id", ORDER), READ)
    if clusters == 0:
        return None
    if strict:
        first = later.sort(ORDER).take(1)[0]
        raise InputError(f"{position(first[ORDER], names)}: id {first['id']!r} already used at "
                         f"{position(first[KEPT], names)}; drop --strict to quarantine repeated ids")
    marks = later.map_batches(_marks, fn_kwargs={"names": names}, batch_format="pyarrow")
    layer_folder = os.path.join(folder, FOLDER)
    execute(lambda: write_marks(marks, layer_folder, part_rows), READ)
    return snapshot.Layer(READ, layer_folder)
