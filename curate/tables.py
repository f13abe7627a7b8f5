"""Helpers over pyarrow tables that stages share: set a column, mark rows as dropped, decide by mode.

A stage never removes rows: it marks them (:func:`mark_drops`) in the drop
columns the stage contract names (:mod:`curate.stage`), and the runner moves
marked rows out. :func:`decide` marks or only annotates, by a filter's ``mode``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.stage import DROP_COLUMNS, DROP_DETAIL, DROP_REASON, DUPLICATE_OF


def set_column(table: pa.Table, name: str, values: np.ndarray | pa.Array) -> pa.Table:
    """Add or replace a column (a second run of the same stage overwrites the first one's values)."""
    array = pa.array(values)
    if name in table.column_names:
        return table.set_column(table.schema.get_field_index(name), name, array)
    return table.append_column(name, array)


def decide(stage_name: str, table: pa.Table, mode: str, mask: Any, reason: str | pa.Array | np.ndarray,
           detail: Any = None) -> pa.Table:
    """Drop (``mode: drop``) or annotate (``mode: annotate``) the rows where ``mask`` is true.

    Annotating writes the reason to the column ``<stage_name>_reason`` and keeps
    every row, so users can filter later with polars.
    """
    if mode == "drop":
        return mark_drops(table, mask, reason, detail=detail)
    n = table.num_rows
    flags = _to_bool(mask, n)
    column = f"{stage_name}_reason"
    current = table.column(column) if column in table.column_names else pa.nulls(n, pa.string())
    values = pa.array([reason] * n, pa.string()) if isinstance(reason, str) else pa.array(reason, pa.string())
    # the first failing rule is the one named, as in drop mode
    merged = pc.if_else(pa.array(flags & ~np.asarray(pc.is_valid(current), dtype=bool)), values, current)
    if column in table.column_names:
        return table.set_column(table.schema.get_field_index(column), column, merged)
    return table.append_column(column, merged)


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
    table = ensure_drop_columns(table)
    if not new_mask.any():
        return table
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


def ensure_drop_columns(table: pa.Table) -> pa.Table:
    """``table`` with the three drop columns present, as strings."""
    for column in DROP_COLUMNS:
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.string()))
        elif table.schema.field(column).type != pa.string():
            index = table.schema.get_field_index(column)
            table = table.set_column(index, column, table.column(column).cast(pa.string()))
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
