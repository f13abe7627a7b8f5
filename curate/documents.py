"""The document contract shared by readers, stages and writers.

Every document is a row with:

* ``id`` (string, unique): taken from the input, or ``<file>:<line>`` when the
  input has none;
* ``text`` (string);
* ``source`` (string): the input's ``source`` field, or the input file name;
* ``meta`` (string): the input's other fields as a JSON object, kept verbatim.

Stages add columns of their own. Internal columns start with ``_`` and never
reach the output shards.
"""

from __future__ import annotations

import pyarrow as pa

from curate.stage import DROP_COLUMNS, ORDER

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string()),
        pa.field("source", pa.string()),
        pa.field("meta", pa.string()),
        pa.field(ORDER, pa.int64(), nullable=False),
    ]
)
MARKED_SCHEMA = DOCUMENT_SCHEMA
for _column in DROP_COLUMNS:
    MARKED_SCHEMA = MARKED_SCHEMA.append(pa.field(_column, pa.string()))

# Columns of the dropped-documents table, in order.
DROPPED_COLUMNS = ("id", "stage", "reason", "detail", "duplicate_of", "text", "source", "meta")

# Record positions: the file index sits above this many bits of record number.
RECORD_BITS = 40


def order_of(file_index: int, record_index: int) -> int:
    """Global, sortable position of record ``record_index`` of input file ``file_index``."""
    return (file_index << RECORD_BITS) | record_index


def is_internal(column: str) -> bool:
    return column.startswith("_")
