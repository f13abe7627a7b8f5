"""Parquet files (local or in an object store) as polars frames.

Local files go to polars directly. Files in an object store are read through
``curate.io.atomic`` (fsspec), so they take the same credentials and endpoint
from the environment as the rest of curate; polars' own cloud access reads its
settings differently (no ``AWS_PROFILE``, no plain-HTTP endpoints by default).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from curate.io import atomic, storage


def read_frame(files: list[str], columns: list[str] | None = None) -> pl.DataFrame:
    """The rows of ``files`` in order, as one frame (columns missing in some files become null)."""
    if not any(storage.is_remote(path) for path in files):
        return pl.read_parquet(files, columns=columns)
    tables = [atomic.read_table(path, columns=columns) for path in files]
    return _frame(pa.concat_tables(tables, promote_options="permissive"))


def head(files: list[str], rows: int) -> pl.DataFrame:
    """The first ``rows`` rows of ``files`` (reading no more row groups than needed)."""
    pieces: list[pa.Table] = []
    left = rows
    for path in files:
        for batch in atomic.parquet_file(path).iter_batches(batch_size=max(left, 1)):
            pieces.append(pa.Table.from_batches([batch]).slice(0, left))
            left -= min(left, batch.num_rows)
            break
        if left <= 0:
            break
    if not pieces:
        return pl.DataFrame()
    return _frame(pa.concat_tables(pieces, promote_options="permissive"))


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)  # a Table always converts to a frame (a Series comes from an Array)
    return frame
