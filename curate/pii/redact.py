"""Writing what was found: replaced texts, and spans as an Arrow column."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pii.detect import Spans

SPAN_TYPE = pa.struct([("kind", pa.string()), ("start", pa.int32()), ("end", pa.int32())])


def placeholder(kind: str) -> str:
    """``<EMAIL>``, ``<IP>``, ... : the fixed token of a kind."""
    return f"<{kind.upper()}>"


def hash_token(kind: str, value: str, salt: str) -> str:
    """``<EMAIL_1a2b3c4d5e6f>``: the same value and salt give the same token; without the salt it cannot be
    recomputed from a guessed value."""
    digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), key=salt.encode()[:64], digest_size=6).hexdigest()
    return f"<{kind.upper()}_{digest}>"


def replace(column: pa.Array, text: pa.Array, spans: Spans, tokens: list[str]) -> pa.Array:
    """``column`` with each span of ``spans`` replaced by its token (``tokens[i]`` for span ``i``).

    ``text`` is ``column`` with nulls as empty strings; only documents with a span are rebuilt.
    """
    if not len(spans.doc):
        return column
    changed = np.unique(spans.doc)
    bounds = np.searchsorted(spans.doc, changed, side="left").tolist() + [len(spans.doc)]
    originals = text.take(pa.array(changed)).to_pylist()
    starts, ends = spans.start.tolist(), spans.end.tolist()
    rebuilt = []
    for index, original in enumerate(originals):
        pieces, at = [], 0
        for span in range(bounds[index], bounds[index + 1]):
            pieces += [original[at:starts[span]], tokens[span]]
            at = ends[span]
        pieces.append(original[at:])
        rebuilt.append("".join(pieces))
    mask = np.zeros(len(text), dtype=bool)
    mask[changed] = True
    return pc.replace_with_mask(column, pa.array(mask), pa.array(rebuilt, column.type))


def span_column(spans: Spans) -> pa.Array:
    """One list of ``{kind, start, end}`` per document (character offsets, end exclusive)."""
    offsets = np.zeros(spans.n_docs + 1, dtype=np.int32)
    np.add.at(offsets, spans.doc + 1, 1)
    kinds = np.array(spans.kinds, dtype=object)[spans.kind] if len(spans.kind) else np.array([], dtype=object)
    values = pa.StructArray.from_arrays(
        [pa.array(kinds, pa.string()), pa.array(spans.start, pa.int32()), pa.array(spans.end, pa.int32())],
        fields=list(SPAN_TYPE))
    return pa.ListArray.from_arrays(pa.array(np.cumsum(offsets), pa.int32()), values)
