"""Writing packed rows to Parquet shards, and finding the shards of an output folder."""

from __future__ import annotations

import glob
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.feed.packing import Row
from curate.manifest import MANIFEST, Manifest, read_manifest

PACK_MANIFEST = "_pack.json"
PACKED_SCHEMA = pa.schema([
    ("input_ids", pa.list_(pa.int32())),
    ("loss_mask", pa.list_(pa.int8())),
    ("doc_starts", pa.list_(pa.int32())),
    ("doc_ids", pa.list_(pa.string())),
    ("doc_offsets", pa.list_(pa.int32())),
    ("tokens", pa.int32()),
    ("metadata", pa.bool_()),
])
CONTEXT_FIELD = pa.field("context_id", pa.int64())  # rows aligned to in-context-pretraining contexts


def packed_schema(contexts: bool) -> pa.Schema:
    return PACKED_SCHEMA.append(CONTEXT_FIELD) if contexts else PACKED_SCHEMA


def _list_array(arrays: list[np.ndarray], dtype: pa.DataType) -> pa.ListArray:
    lengths = np.fromiter((len(a) for a in arrays), dtype=np.int32, count=len(arrays))
    offsets = np.zeros(len(arrays) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype.to_pandas_dtype())
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=dtype))


def rows_to_table(rows: list[Row], contexts: bool = False) -> pa.Table:
    columns = {
        "input_ids": _list_array([r["input_ids"] for r in rows], pa.int32()),
        "loss_mask": _list_array([r["loss_mask"] for r in rows], pa.int8()),
        "doc_starts": pa.array([r["doc_starts"] for r in rows], type=pa.list_(pa.int32())),
        "doc_ids": pa.array([r["doc_ids"] for r in rows], type=pa.list_(pa.string())),
        "doc_offsets": pa.array([r["doc_offsets"] for r in rows], type=pa.list_(pa.int32())),
        "tokens": pa.array([r["tokens"] for r in rows], type=pa.int32()),
        "metadata": pa.array([r["metadata"] for r in rows], type=pa.bool_()),
    }
    if contexts:
        columns["context_id"] = pa.array([r["context_id"] for r in rows], type=pa.int64())
    return pa.table(columns, schema=packed_schema(contexts))


class ShardWriter:
    """Rows into ``folder/<prefix>-NNNNN.parquet``: ``rows_per_shard`` rows a shard, ``row_group_rows`` a row group.

    Each shard is written under a temporary name and renamed when complete. ``cut()`` ends the current
    shard early, so no shard mixes the metadata-conditioned share with the plain one. ``contexts``: the rows
    carry ``context_id``.
    """

    def __init__(self, folder: str, relative_to: str, rows_per_shard: int, row_group_rows: int,
                 prefix: str = "part", contexts: bool = False) -> None:
        self.folder, self.relative_to, self.prefix, self.contexts = folder, relative_to, prefix, contexts
        self.rows_per_shard, self.row_group_rows = rows_per_shard, row_group_rows
        self.pending: list[Row] = []
        self.writer: pq.ParquetWriter | None = None
        self.in_shard = 0
        self.shards: list[dict] = []
        self._metadata = False

    def add(self, row: Row) -> None:
        held = self.in_shard + len(self.pending)
        if held and (held >= self.rows_per_shard or row["metadata"] != self._metadata):
            self.cut()
        self._metadata = row["metadata"]
        self.pending.append(row)
        if len(self.pending) >= self.row_group_rows or self.in_shard + len(self.pending) >= self.rows_per_shard:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self.pending:
            return
        if self.writer is None:
            os.makedirs(self.folder, exist_ok=True)
            self._path = os.path.join(self.folder, f"{self.prefix}-{len(self.shards):05d}.parquet")
            self.writer = pq.ParquetWriter(self._path + ".tmp", packed_schema(self.contexts), compression="zstd")
        self.writer.write_table(rows_to_table(self.pending, self.contexts), row_group_size=self.row_group_rows)
        self.in_shard += len(self.pending)
        self.pending = []

    def cut(self) -> None:
        self._write_pending()
        if self.writer is None:
            return
        self.writer.close()
        os.replace(self._path + ".tmp", self._path)
        self.shards.append({"path": os.path.relpath(self._path, self.relative_to), "rows": self.in_shard,
                            "bytes": os.path.getsize(self._path), "metadata": self._metadata})
        self.writer, self.in_shard = None, 0

    def close(self) -> list[dict]:
        self.cut()
        return self.shards


def document_shards(output: str, manifest: Manifest | None = None) -> list[str]:
    """The document shards of a run's output folder, in output order (from its manifest when there is one).

    ``manifest``: the folder's manifest when the caller has already read it.
    """
    if manifest is None and os.path.isfile(os.path.join(output, MANIFEST)):
        manifest = read_manifest(output)
    if manifest is not None:
        return [os.path.join(output, shard.path) for shard in manifest.output.shards]
    files = sorted(glob.glob(os.path.join(output, "*.parquet")))
    if not files:
        raise FileNotFoundError(f"{output}: no Parquet shards (and no {MANIFEST}); run 'curate run' first")
    return files
