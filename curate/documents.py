"""The document contract shared by readers, stages and writers.

Every document is a row with:

* ``id`` (string, unique): taken from the input, or ``<file>:<line>`` when the
  input has none;
* ``text`` (string);
* ``source`` (string): the input's ``source`` field, or the input file name;
* ``meta`` (string): the input's other fields as a JSON object, kept verbatim.

Stages add columns of their own. Internal columns start with ``_`` and never
reach the output shards; ``_order`` (int64) is each row's position, with room
after every input document for the rows an expand stage creates from it (see
:func:`order_of` and :func:`position_of`).
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

# Layout of ``_order`` (a non-negative int64), from high bits to low:
#   file index (FILE_BITS) | record index (RECORD_BITS) | child slot (SUB_BITS)
# An input document has child slot 0. Rows an expand stage creates from it get
# ``parent_order + k`` (k = 1..MAX_CHILDREN), so they sort right after their
# parent and before the next input document.
RECORD_BITS = 31
SUB_BITS = 12
FILE_BITS = 63 - RECORD_BITS - SUB_BITS
#: Input files a run can read (file indexes 0 .. MAX_FILES - 1).
MAX_FILES = 1 << FILE_BITS
#: Rows an expand stage can place after one input document.
MAX_CHILDREN = (1 << SUB_BITS) - 1
_RECORD_MASK = (1 << RECORD_BITS) - 1


def order_of(file_index: int, record_index: int) -> int:
    """Global, sortable position of record ``record_index`` of input file ``file_index``."""
    return (file_index << (RECORD_BITS + SUB_BITS)) | (record_index << SUB_BITS)


def position_of(order: int) -> tuple[int, int]:
    """``(file index, record index)`` of an order; a created row gives its parent's position."""
    return order >> (RECORD_BITS + SUB_BITS), (order >> SUB_BITS) & _RECORD_MASK


def is_internal(column: str) -> bool:
    return column.startswith("_")
