"""Output shards and the dropped-documents table.

Shards are named ``part-00000.parquet``, ``part-00001.parquet``, ... in document
order, so ``pl.scan_parquet("OUT/*.parquet")`` reads a run's result directly.
Internal columns (leading ``_``) never reach the shards.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from curate.documents import DROPPED_COLUMNS
from curate.io import atomic, storage
from curate.stage import DROP_DETAIL, DROP_REASON, DROP_STAGE, DUPLICATE_OF

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
    schemas = [atomic.read_schema(path) for path in files]
    if not schemas:
        return None
    return pa.unify_schemas(schemas, promote_options="permissive")


class ShardWriter:
    """Writes tables into numbered shards, cut by rows or bytes, each published only when complete.

    With ``group_column``, a shard is only cut where that column's value
    changes, so a group (e.g. one training context) never spans two shards.
    """

    def __init__(self, folder: str, schema: pa.Schema, config: WriterConfig, prefix: str = "part",
                 group_column: str | None = None) -> None:
        self.folder, self.schema, self.config, self.prefix = folder, schema, config, prefix
        self.group_column = group_column if group_column in schema.names else None
        self.shards: list[dict[str, int | str]] = []
        self._writer: atomic.ParquetFileWriter | None = None
        self._rows = self._bytes = 0
        self._full = False
        self._last_group: object = None
        storage.makedirs(folder)
        for name in storage.listdir(folder):
            if name.startswith(f"{prefix}-") and ".parquet" in name:
                storage.remove(storage.join(folder, name))

    def write(self, table: pa.Table) -> None:
        table = table.select(self.schema.names).cast(self.schema)
        offset = 0
        while offset < table.num_rows:
            if self._full:
                same = self._group_run(table, offset)
                if same:
                    self._append(table.slice(offset, same))
                    offset += same
                    if offset < table.num_rows:
                        self._close()
                    continue
                self._close()
            if self._writer is None:
                self._open()
            room = self.config.rows_per_shard - self._rows
            piece = table.slice(offset, room)
            self._append(piece)
            offset += piece.num_rows
            if self._rows >= self.config.rows_per_shard or self._bytes >= self.config.bytes_per_shard:
                if self.group_column is None:
                    self._close()
                else:
                    self._full = True

    def _group_run(self, table: pa.Table, offset: int) -> int:
        """How many rows from ``offset`` continue the group the current shard ends with."""
        if self.group_column is None:
            return 0
        values = table.column(self.group_column).slice(offset).to_pylist()
        count = 0
        for value in values:
            if value != self._last_group:
                break
            count += 1
        return count

    def _append(self, piece: pa.Table) -> None:
        assert self._writer is not None, "a shard is opened before rows are appended"
        self._writer.write_table(piece, row_group_size=self.config.row_group_rows)
        self._rows += piece.num_rows
        self._bytes += piece.nbytes
        if self.group_column is not None and piece.num_rows:
            self._last_group = piece.column(self.group_column)[-1].as_py()

    def _name(self, index: int) -> str:
        return f"{self.prefix}-{index:05d}.parquet"

    def _open(self) -> None:
        path = storage.join(self.folder, self._name(len(self.shards)))
        self._writer = atomic.ParquetFileWriter(path, self.schema, compression=self.config.compression)

    def _close(self) -> None:
        self._full = False
        if self._writer is None:
            return
        size = self._writer.close()
        self.shards.append({"path": self._name(len(self.shards)), "rows": self._rows, "bytes": size})
        self._writer, self._rows, self._bytes = None, 0, 0

    def close(self) -> list[dict[str, int | str]]:
        self._close()
        return self.shards

    def abort(self) -> None:
        """Throw away the shard being written and the shards written before it (a pass that failed)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.abort()
        for shard in self.shards:
            storage.remove(storage.join(self.folder, str(shard["path"])))
        self.shards = []


DROPPED_SCHEMA = pa.schema([(name, pa.string()) for name in DROPPED_COLUMNS])


def output_schema(schema: pa.Schema) -> pa.Schema:
    """The shards' columns: id, text, source, meta first, then stage columns; internal ones left out."""
    names = [n for n in LEADING if n in schema.names]
    names += [n for n in schema.names if n not in LEADING and not n.startswith("_")]
    return pa.schema([schema.field(n) for n in names])


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns (missing ones null)."""
    columns = []
    for field in schema:
        if field.name in table.column_names:
            columns.append(table.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def dropped_table(table: pa.Table) -> pa.Table:
    """Marked rows (with ``_drop_stage``) shaped as the dropped-documents table."""
    n = table.num_rows

    def column(name: str) -> pa.ChunkedArray | pa.Array:
        return table.column(name) if name in table.column_names else pa.nulls(n, pa.string())

    columns = {"id": column("id"), "stage": column(DROP_STAGE), "reason": column(DROP_REASON),
               "detail": column(DROP_DETAIL), "duplicate_of": column(DUPLICATE_OF), "text": column("text"),
               "source": column("source"), "meta": column("meta")}
    return pa.table({k: v.cast(pa.string()) for k, v in columns.items()}, schema=DROPPED_SCHEMA)
