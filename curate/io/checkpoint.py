"""Checkpoint files: folders of Parquet parts named by the first ``_order`` they hold.

Sorting the names gives document order, so resumed and uninterrupted runs
read the same rows in the same order. What a folder means (a generation of
documents or a layer of marks) is ``curate.engine.snapshot``'s business.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from ray.data import Datasink

from curate.io import atomic, storage
from curate.stage import DROP_REASON, ORDER

SUCCESS = "_SUCCESS.json"
# Rows per checkpoint part. Parts are the unit of parallelism of the next stage.
PART_ROWS = 20_000


class CheckpointSink(Datasink):
    """Ray Data sink: blocks to ``<folder>/<first _order>.parquet`` (zstd), ``max_rows`` rows at most per file."""

    def __init__(self, folder: str, max_rows: int = PART_ROWS) -> None:
        self.folder = folder
        self.max_rows = max_rows

    def on_write_start(self, schema: pa.Schema | None = None) -> None:
        storage.makedirs(self.folder)

    def write(self, blocks: Iterable[pa.Table], ctx: Any) -> list[str]:
        written = []
        for block in blocks:
            for offset in range(0, block.num_rows, self.max_rows):
                piece = block.slice(offset, self.max_rows)
                write_part(self.folder, piece)
                written.append(piece.column(ORDER)[0].as_py())
        return written


def write_part(folder: str, table: pa.Table) -> str:
    """Write one checkpoint part atomically; returns its path."""
    first = table.column(ORDER)[0].as_py()
    path = storage.join(folder, f"{first:020d}.parquet")
    atomic.write_table(table, path, compression="zstd")
    return path


def first_order(path: str) -> int:
    """The first ``_order`` in a part, read from its name."""
    return int(path.rsplit("/", 1)[-1].split(".")[0])


def part_files(folder: str) -> list[str]:
    """The checkpoint's parts in document order."""
    return [storage.join(folder, f) for f in storage.listdir(folder) if f.endswith(".parquet")]


def count_rows(files: list[str]) -> tuple[int, Counter[str]]:
    """Total rows and dropped rows by reason, reading only the reason column."""
    total = 0
    reasons: Counter[str] = Counter()
    for path in files:
        parquet = atomic.parquet_file(path)
        total += parquet.metadata.num_rows
        if DROP_REASON in parquet.schema_arrow.names:
            column = parquet.read(columns=[DROP_REASON]).column(DROP_REASON)
            counts = pc.value_counts(column.drop_null()).to_pylist() if column.null_count < len(column) else []
            reasons.update({c["values"]: c["counts"] for c in counts})
    return total, reasons


def read_success(stage_dir: str) -> dict[str, Any] | None:
    """The step's finish marker, written after everything else in its folder; None while unfinished."""
    return read_json(storage.join(stage_dir, SUCCESS))


def write_success(stage_dir: str, record: dict[str, Any]) -> None:
    atomic.write_text(storage.join(stage_dir, SUCCESS), json.dumps(record, indent=2, sort_keys=True))


def read_json(path: str) -> Any:
    """A JSON file's value, or None when there is no such file."""
    try:
        return json.loads(storage.read_text(path))
    except FileNotFoundError:
        return None


def reset(stage_dir: str) -> None:
    storage.rmtree(stage_dir)
