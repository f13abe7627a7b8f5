"""Checkpoint files: folders of Parquet parts named by the first ``_order`` they hold.

Sorting the names gives document order, so resumed and uninterrupted runs
read the same rows in the same order. What a folder means (a generation of
documents or a layer of marks) is ``curate.engine.snapshot``'s business.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ray.data import Datasink

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
        os.makedirs(self.folder, exist_ok=True)

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
    path = os.path.join(folder, f"{first:020d}.parquet")
    tmp = path + ".tmp"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def first_order(path: str) -> int:
    """The first ``_order`` in a part, read from its name."""
    return int(os.path.basename(path).split(".")[0])


def part_files(folder: str) -> list[str]:
    """The checkpoint's parts in document order."""
    if not os.path.isdir(folder):
        return []
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".parquet")]


def count_rows(files: list[str]) -> tuple[int, Counter[str]]:
    """Total rows and dropped rows by reason, reading only the reason column."""
    total = 0
    reasons: Counter[str] = Counter()
    for path in files:
        parquet = pq.ParquetFile(path)
        total += parquet.metadata.num_rows
        if DROP_REASON in parquet.schema_arrow.names:
            column = parquet.read(columns=[DROP_REASON]).column(DROP_REASON)
            counts = pc.value_counts(column.drop_null()).to_pylist() if column.null_count < len(column) else []
            reasons.update({c["values"]: c["counts"] for c in counts})
    return total, reasons


def read_success(stage_dir: str) -> dict[str, Any] | None:
    path = os.path.join(stage_dir, SUCCESS)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def write_success(stage_dir: str, record: dict[str, Any]) -> None:
    tmp = os.path.join(stage_dir, SUCCESS + ".tmp")
    with open(tmp, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(tmp, os.path.join(stage_dir, SUCCESS))


def reset(stage_dir: str) -> None:
    if os.path.exists(stage_dir):
        shutil.rmtree(stage_dir)
