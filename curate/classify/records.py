"""Reading labelled examples for training: JSONL (plain, .gz, .zst), Parquet or CSV files."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.csv as pcsv
import pyarrow.parquet as pq


def read_records(path: str, columns: list[str]) -> Iterator[dict[str, Any]]:
    """The rows of ``path`` (only ``columns``); a missing column is an error that names the file."""
    lower = path.lower()
    if lower.endswith(".parquet"):
        yield from _table_rows(pq.read_table(path), path, columns)
    elif lower.endswith(".csv"):
        yield from _table_rows(pcsv.read_csv(path), path, columns)
    else:
        for line_no, line in enumerate(_lines(path), start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({exc})") from None
            missing = [c for c in columns if c not in record]
            if missing:
                raise ValueError(f"{path}:{line_no}: no field {missing[0]!r}; set the field name with "
                                 "--text-field / --label-field")
            yield {c: record[c] for c in columns}


def _table_rows(table: Any, path: str, columns: list[str]) -> Iterator[dict[str, Any]]:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r} (columns: {', '.join(table.column_names)}); set the "
                         "field name with --text-field / --label-field")
    yield from table.select(columns).to_pylist()


def _lines(path: str) -> Iterator[bytes]:
    if path.endswith(".zst"):
        import zstandard

        with open(path, "rb") as raw:
            yield from io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
    elif path.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            yield from handle
    else:
        with open(path, "rb") as handle:
            yield from handle
