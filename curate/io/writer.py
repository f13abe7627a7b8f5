"""Output shards and the dropped-documents table.

Shards are named ``part-00000.parquet``, ``part-00001.parquet``, ... in document
order, so ``pl.scan_parquet("OUT/*.parquet")`` reads a run's result directly.
Internal columns (leading ``_``) never reach the shards.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from curate.documents import DROPPED_COLUMNS
from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF

LEADING = ("id", "text", "source", "meta")


class WriterConfig(BaseModel):
    """How the output shards are cut."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rows_per_shard: int = Field(100_000, gt=0, description="Start a new shard after this many rows.")
    bytes_per_shard: int = Field(512 * 2**20, gt=0, description="Start a new shard after this many (in-memory) bytes.")
    row_group_rows: int = Field(10_000, gt=0, description="Rows per Parquet row group.")
    compression: str = Field("zstd", description="Parquet compression codec.")


def unified_schema(files: list[str]) -> pa.Schema | None:
    """One schema for all parts; columns missing in some parts become nullable."""
    schemas = [pq.read_schema(path) for path in files]
    if not schemas:
        return None
    return pa.unify_schemas(schemas, promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _output_schema(schema: pa.Schema) -> pa.Schema:
    names = [n for n in LEADING if n in schema.names]
    names += [n for n in schema.names if n not in LEADING and not n.startswith("_")]
    return pa.schema([schema.field(n) for n in names])


def iter_kept(files: list[str], schema: pa.Schema) -> Iterator[pa.Table]:
    """Rows not marked as dropped, in document order."""
    for path in files:
        table = _conform(pq.read_table(path), schema)
        if DROP_REASON in table.column_names:
            table = table.filter(pc.is_null(table.column(DROP_REASON)))
        if table.num_rows:
            yield table


class ShardWriter:
    """Writes tables into numbered shards, cut by rows or bytes."""

    def __init__(self, folder: str, schema: pa.Schema, config: WriterConfig, prefix: str = "part") -> None:
        self.folder, self.schema, self.config, self.prefix = folder, schema, config, prefix
        self.shards: list[dict[str, int | str]] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows = self._bytes = 0
        os.makedirs(folder, exist_ok=True)
        for stale in glob.glob(os.path.join(folder, f"{prefix}-*.parquet*")):
            os.remove(stale)

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        offset = 0
        while offset < table.num_rows:
            if self._writer is None:
                self._open()
            room = self.config.rows_per_shard - self._rows
            piece = table.slice(offset, room)
            self._writer.write_table(piece, row_group_size=self.config.row_group_rows)  # type: ignore[union-attr]
            self._rows += piece.num_rows
            self._bytes += piece.nbytes
            offset += piece.num_rows
            if self._rows >= self.config.rows_per_shard or self._bytes >= self.config.bytes_per_shard:
                self._close()

    def _path(self, index: int) -> str:
        return os.path.join(self.folder, f"{self.prefix}-{index:05d}.parquet")

    def _open(self) -> None:
        path = self._path(len(self.shards))
        self._writer = pq.ParquetWriter(path + ".tmp", self.schema, compression=self.config.compression)

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        path = self._path(len(self.shards))
        os.replace(path + ".tmp", path)
        self.shards.append({"path": os.path.basename(path), "rows": self._rows, "bytes": os.path.getsize(path)})
        self._writer, self._rows, self._bytes = None, 0, 0

    def close(self) -> list[dict[str, int | str]]:
        self._close()
        return self.shards


def write_output(files: list[str], folder: str, config: WriterConfig) -> list[dict[str, int | str]]:
    """Write the kept rows of a checkpoint as output shards; returns the shard list."""
    schema = unified_schema(files)
    if schema is None:
        return []
    writer = ShardWriter(folder, _output_schema(schema), config)
    for table in iter_kept(files, schema):
        writer.write(table)
    return writer.close()


DROPPED_SCHEMA = pa.schema([(name, pa.string()) for name in DROPPED_COLUMNS])


def dropped_rows(files: list[str], stage: str) -> Iterator[pa.Table]:
    """Rows a stage marked as dropped, shaped as the dropped-documents table."""
    for path in files:
        table = pq.read_table(path)
        if DROP_REASON not in table.column_names:
            continue
        table = table.filter(pc.is_valid(table.column(DROP_REASON)))
        if not table.num_rows:
            continue
        n = table.num_rows
        columns = {
            "id": table.column("id"),
            "stage": pa.array([stage] * n, pa.string()),
            "reason": table.column(DROP_REASON),
            "detail": table.column(DROP_DETAIL) if DROP_DETAIL in table.column_names else pa.nulls(n, pa.string()),
            "duplicate_of": table.column(DUPLICATE_OF) if DUPLICATE_OF in table.column_names else pa.nulls(n, pa.string()),
            "text": table.column("text"),
            "source": table.column("source"),
            "meta": table.column("meta"),
        }
        yield pa.table({k: v.cast(pa.string()) for k, v in columns.items()}, schema=DROPPED_SCHEMA)


def write_dropped(stages: list[tuple[str, list[str]]], folder: str, config: WriterConfig) -> list[dict[str, int | str]]:
    """Write every stage's dropped rows, stage by stage, to ``folder``."""
    writer = ShardWriter(folder, DROPPED_SCHEMA, config)
    for stage, files in stages:
        for table in dropped_rows(files, stage):
            writer.write(table)
    return writer.close()
