"""Repeated ids: the first occurrence keeps its id, later ones are quarantined by ``read``.

Run after the first step, over the rows the reader accepted. Reading comes
first in the pipeline, so a later occurrence is dropped as ``duplicate_id`` by
``read`` even when a map stage fused after reading had dropped it for another
reason: the layer *overrides* those drops, and the fused stages' counts are
corrected (:func:`correct_counts`).
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.documents import position_of
from curate.engine import snapshot
from curate.engine.marks import write_marks
from curate.engine.stall import execute
from curate.errors import InputError
from curate.grouping import KEPT, LOCAL_MAX_ROWS, later_duplicates, later_duplicates_local
from curate.stage import DROP_DETAIL, DROP_REASON, DROP_STAGE, ORDER

READ = "read"
FOLDER = "_ids"


def position(order: int, names: list[str]) -> str:
    """``file:line`` of an input document from its ``_order``."""
    file_index, record = position_of(order)
    return f"{names[file_index]}:{record}"


PREVIOUS_STAGE = "_previous_stage"
PREVIOUS_REASON = "_previous_reason"


def _accepted(batch: pa.Table) -> pa.Table:
    """Rows the reader accepted, with the fused stage and reason that dropped them, if any."""
    n = batch.num_rows
    stage = batch.column(DROP_STAGE) if DROP_STAGE in batch.column_names else pa.nulls(n, pa.string())
    reason = batch.column(DROP_REASON) if DROP_REASON in batch.column_names else pa.nulls(n, pa.string())
    accepted = pc.fill_null(pc.not_equal(stage, READ), True)
    return pa.table({"id": batch.column("id").filter(accepted), ORDER: batch.column(ORDER).filter(accepted),
                     PREVIOUS_STAGE: stage.filter(accepted), PREVIOUS_REASON: reason.filter(accepted)})


def _marks(batch: pa.Table, names: list[str]) -> pa.Table:
    detail = [f"id {i!r} already used at {position(k, names)}"
              for i, k in zip(batch.column("id").to_pylist(), batch.column(KEPT).to_pylist())]
    return pa.table({ORDER: batch.column(ORDER), DROP_REASON: pa.array(["duplicate_id"] * batch.num_rows, pa.string()),
                     DROP_DETAIL: pa.array(detail, pa.string())})


def _accepted_rows(view: snapshot.PartView) -> pa.Table:
    return _accepted(snapshot.read_view(view, kept_only=False, columns=["id", ORDER, DROP_REASON, DROP_STAGE]))


def repeated_id_layer(generation: snapshot.Generation, folder: str, names: list[str], strict: bool,
                      part_rows: int) -> tuple[snapshot.Layer, pa.Table] | None:
    """Write the marks for repeated ids under ``folder/_ids``; None when every id is unique.

    Also returns how many marked rows each fused stage had dropped, and why
    (columns ``_previous_stage``, ``_previous_reason``, ``count``; null stage:
    the row was kept), for :func:`correct_counts`.
    """
    import ray

    views = generation.views()
    if not views:
        return None
    later, clusters = repeated_ids(views, _accepted_rows, READ)
    if clusters == 0:
        return None
    if strict:
        first = later.sort(ORDER).take(1)[0]
        raise InputError(f"{position(first[ORDER], names)}: id {first['id']!r} already used at "
                         f"{position(first[KEPT], names)}; drop --strict to quarantine repeated ids")
    later = later.materialize()
    previous = later.select_columns([PREVIOUS_STAGE, PREVIOUS_REASON]).to_arrow_refs()
    previous_counts = pa.concat_tables(ray.get(previous)).group_by(
        [PREVIOUS_STAGE, PREVIOUS_REASON]).aggregate([([], "count_all")]).rename_columns(
        [PREVIOUS_STAGE, PREVIOUS_REASON, "count"])
    marks = later.map_batches(_marks, fn_kwargs={"names": names}, batch_format="pyarrow")
    layer_folder = os.path.join(folder, FOLDER)
    execute(lambda: write_marks(marks, layer_folder, part_rows), READ)
    return snapshot.Layer(READ, layer_folder, override=True), previous_counts


def repeated_ids(views: list[snapshot.PartView], fn: Any, label: str, **kwargs: Any) -> tuple[Any, int]:
    """The rows of ``fn(view, **kwargs)`` (``id``, ``_order``, ...) whose id an earlier row has, as a Ray
    Dataset with ``_kept``, and how many ids repeat. A small generation is read in this process."""
    import ray.data

    tables = snapshot.local_tables(views, fn, LOCAL_MAX_ROWS, **kwargs)
    if tables is None:
        keys = snapshot.over_views(views, fn, **kwargs)
        later, clusters, _ = execute(lambda: later_duplicates(keys, "id", ORDER), label)
        return later, clusters
    if not tables:
        return None, 0
    table = pa.concat_tables(tables, promote_options="permissive")
    found, clusters, _ = later_duplicates_local(table, "id", ORDER)
    return (ray.data.from_arrow(found) if clusters else None), clusters


def correct_counts(counts: dict[str, Any], names: list[str], previous: pa.Table) -> None:
    """Move the repeated-id rows to ``read`` in the step's per-stage counts (``names``: read first).

    A row a fused stage kept is taken out of every fused stage's in and out; a
    row fused stage k dropped is taken out of the in and out of the stages
    before k and out of stage k's in and drops.
    """
    for row in previous.to_pylist():
        stage, reason, count = row[PREVIOUS_STAGE], row[PREVIOUS_REASON], row["count"]
        counts[READ].dropped["duplicate_id"] += count
        counts[READ].documents_out -= count
        for name in names[1:]:
            counts[name].documents_in -= count
            if name == stage:
                counts[name].dropped[reason] -= count
                if counts[name].dropped[reason] == 0:
                    del counts[name].dropped[reason]
                break
            counts[name].documents_out -= count
