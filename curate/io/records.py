"""What every reader shares: its settings, the input file it reads, and the builder of its row batches.

Readers (``curate.io.reader`` for JSONL and Parquet, ``curate.io.warc`` for
web archives) turn records into rows of the document contract, bad ones
marked with a ``read`` drop reason, and hand them on in batches cut by rows
or text bytes. What a reader counts beyond rows (records that are no
documents, charsets, repairs) travels with the batch in its schema metadata
(:data:`READ_STATS`) and is summed into the ``read`` stage's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from curate.documents import MARKED_SCHEMA, RECORD_BITS
from curate.errors import InputError
from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF, ORDER

REPAIRED = "_repaired"
#: Schema metadata key of a batch: the reader's statistics for the rows before it (JSON, summed per run).
READ_STATS = b"curate.read_stats"
# The last record index of a file is kept for the row reporting an unreadable
# file, so records are numbered 1 .. UNREADABLE_RECORD - 1.
UNREADABLE_RECORD = (1 << RECORD_BITS) - 1

Format = Literal["jsonl", "parquet", "warc"]


class ReaderConfig(BaseModel):
    """How input records map to documents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text_field: str = Field("text", description="Field holding the document text.")
    id_field: str = Field("id", description="Field holding a unique id; '<file>:<line>' when absent.")
    source_field: str = Field("source", description="Field naming the source; the file name when absent.")
    max_doc_bytes: int = Field(16 * 2**20, gt=0, description="Larger documents are quarantined as too_large.")
    utf8_errors: Literal["quarantine", "replace"] = Field(
        "quarantine", description="Invalid UTF-8: quarantine the record, or replace bad bytes with U+FFFD."
    )
    strict: bool = Field(False, description="Stop at the first bad record instead of quarantining it.")
    batch_rows: int = Field(10_000, gt=0, description="Rows per batch handed to the first stage.")
    batch_bytes: int = Field(64 * 2**20, gt=0, description="Text bytes at which a batch is cut early.")


@dataclass(frozen=True)
class InputFile:
    path: str
    name: str  # path relative to the input root, used in derived ids and messages
    size: int
    format: Format


def too_many_records(file: InputFile) -> InputError:
    return InputError(f"{file.name}: too many records for one file (at most {UNREADABLE_RECORD - 1}); "
                      "split it into several files")


class BatchBuilder:
    """Collects rows column-wise and cuts Arrow tables by rows or bytes; carries the reader's statistics."""

    def __init__(self, config: ReaderConfig) -> None:
        self.config = config
        self._reset()

    def _reset(self) -> None:
        self.columns: dict[str, list[Any]] = {f.name: [] for f in MARKED_SCHEMA}
        self.repaired: list[bool] = []
        self.nbytes = 0
        self.stats: dict[str, Any] = {}

    def add(self, *, id: str, text: str | None, source: str, meta: str | None, order: int,
            reason: str | None = None, detail: str | None = None, repaired: bool = False) -> None:
        c = self.columns
        c["id"].append(id)
        c["text"].append(text)
        c["source"].append(source)
        c["meta"].append(meta)
        c[ORDER].append(order)
        c[DROP_REASON].append(reason)
        c[DROP_DETAIL].append(detail)
        c[DUPLICATE_OF].append(None)
        self.repaired.append(repaired)
        self.nbytes += len(text) if text else 0

    def count(self, *keys: str, by: int = 1) -> None:
        """Add ``by`` to the statistic at ``keys`` (nested: ``count("skipped", "request")``)."""
        level = self.stats
        for key in keys[:-1]:
            level = level.setdefault(key, {})
        level[keys[-1]] = level.get(keys[-1], 0) + by

    def full(self) -> bool:
        return len(self.repaired) >= self.config.batch_rows or self.nbytes >= self.config.batch_bytes

    def flush(self) -> pa.Table | None:
        """The rows so far as a table (None when there are neither rows nor statistics), and start afresh."""
        if not self.repaired and not self.stats:
            return None
        table = pa.table(self.columns, schema=MARKED_SCHEMA).append_column(REPAIRED, pa.array(self.repaired, pa.bool_()))
        if self.stats:
            table = table.replace_schema_metadata({READ_STATS: orjson.dumps(self.stats)})
        self._reset()
        return table


def read_stats(table: pa.Table) -> dict[str, Any]:
    """The reader's statistics a batch carries (empty when none)."""
    metadata = table.schema.metadata or {}
    return orjson.loads(metadata[READ_STATS]) if READ_STATS in metadata else {}
