"""A global stage's marks: written sorted by ``_order``, applied to documents part by part.

Marks never carry the documents' texts unless a stage changes them; they are
stored in files named by their first ``_order`` (like checkpoint parts), so the
marks of one part's range are found from the file names alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.io import atomic, checkpoint, storage
from curate.stage import DROP_REASON, DROP_STAGE, ORDER


def write_marks(marks: Any, folder: str, part_rows: int) -> list[str]:
    """Sort a Dataset of marks by ``_order`` and write it to ``folder``; returns the files."""
    storage.makedirs(folder)
    marks.sort(ORDER).write_datasink(checkpoint.CheckpointSink(folder, part_rows))
    return checkpoint.part_files(folder)


def overlapping(files: list[str], low: int, high: int | None) -> list[str]:
    """The mark files (sorted, named by first ``_order``) that may hold orders in ``[low, high)``."""
    starts = [checkpoint.first_order(path) for path in files]
    chosen = []
    for j, path in enumerate(files):
        ends_after_low = j + 1 == len(files) or starts[j + 1] > low
        if ends_after_low and (high is None or starts[j] < high):
            chosen.append(path)
    return chosen


def read_range(files: list[str], low: int, high: int | None, columns: list[str] | None = None) -> pa.Table | None:
    """The marks with ``low <= _order < high`` from ``files``."""
    tables = []
    for path in files:
        names = atomic.read_schema(path).names
        wanted = None if columns is None else [c for c in names if c in columns or c == ORDER]
        table = atomic.read_table(path, columns=wanted)
        orders = table.column(ORDER)
        inside = pc.greater_equal(orders, low)
        if high is not None:
            inside = pc.and_(inside, pc.less(orders, high))
        tables.append(table.filter(inside))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def apply(table: pa.Table, marks: pa.Table | None, stage: str, defaults: dict[str, Any]) -> tuple[pa.Table, int]:
    """Set the marked columns on the rows of ``table`` (kept rows) that ``marks`` names.

    Rows without a mark keep their values, or get ``defaults`` (else null) in
    columns they did not have. A row newly marked dropped gets ``_drop_stage``
    = ``stage``. Returns the table and how many marks matched a row.
    """
    n = table.num_rows
    if marks is None or marks.num_rows == 0:
        matched = np.zeros(n, dtype=bool)
        index = np.zeros(n, dtype=np.int64)
        marks = marks if marks is not None else pa.table({ORDER: pa.array([], pa.int64())})
    else:
        mark_orders = marks.column(ORDER).to_numpy()
        if np.any(np.diff(mark_orders) <= 0):
            raise ValueError(f"stage {stage!r} marked a row twice (marks must be unique by _order)")
        orders = table.column(ORDER).to_numpy()
        index = np.clip(np.searchsorted(mark_orders, orders), 0, len(mark_orders) - 1)
        matched = mark_orders[index] == orders
    hit = pa.array(matched)
    take = pa.array(index)
    for name in marks.column_names:
        if name == ORDER:
            continue
        values = marks.column(name).take(take) if marks.num_rows else pa.nulls(n, marks.schema.field(name).type)
        if name in table.column_names:
            current = table.column(name)
            if current.type != values.type:
                values = values.cast(current.type)
            table = table.set_column(table.schema.get_field_index(name), name, pc.if_else(hit, values, current))
        else:
            default = pa.scalar(defaults.get(name), values.type) if name in defaults else pa.nulls(n, values.type)
            table = table.append_column(name, pc.if_else(hit, values, default))
    for name, value in defaults.items():
        if name not in table.column_names:
            table = table.append_column(name, pa.array([value] * n))
    if DROP_REASON in marks.column_names:
        newly = pc.and_(hit, pc.is_valid(marks.column(DROP_REASON).take(take))) if marks.num_rows else hit
        current = table.column(DROP_STAGE) if DROP_STAGE in table.column_names else pa.nulls(n, pa.string())
        stage_column = pc.if_else(newly, pa.scalar(stage, pa.string()), current)
        if DROP_STAGE in table.column_names:
            table = table.set_column(table.schema.get_field_index(DROP_STAGE), DROP_STAGE, stage_column)
        else:
            table = table.append_column(DROP_STAGE, stage_column)
    return table, int(matched.sum())


def apply_result(table: pa.Table, result: Any, stage: str = "") -> pa.Table:
    """A global stage's result applied to an in-memory table of its input (for use without the runner).

    ``table`` holds the rows the stage saw, with ``_order``; the result's marks
    are collected, sorted and applied, defaults included. Returns the rows in
    ``_order`` order, drop columns set where the stage marked them.
    """
    import ray

    blocks = ray.get(result.marks.to_arrow_refs())
    marks = pa.concat_tables(blocks, promote_options="permissive").sort_by(ORDER) if blocks else None
    marked, matched = apply(table.sort_by(ORDER), marks, stage, dict(result.defaults))
    if marks is not None and matched != marks.num_rows:
        raise ValueError(f"{marks.num_rows - matched} marks name rows that are not in the table")
    return marked
