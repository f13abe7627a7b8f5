"""Sentence spans for sentence-level scoring: removing a sentence leaves the rest of the text as it was.

:func:`sentence_spans` cuts one text in Python; :func:`split_batch` cuts a whole
Arrow column at once with the same rule in RE2 (pyarrow.compute), returning
the sentences as one flat array plus, per sentence, the row it came from.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Python's \s (str.isspace) spelled out, so that RE2 (whose \s is ASCII only) matches exactly the same characters.
_SPACE = ("[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
# A sentence ends at . ! ? or an ellipsis (possibly followed by closing quotes or brackets) before whitespace,
# at a full-width 。！？ (no space follows those), or at a line break. The whitespace after it belongs to it.
_CLOSERS = "[\"'\u201d\u2019)\\]]*"
# Where a sentence ends: the end of its trailing whitespace.
# (Characters, not escapes: RE2 reads no \u escapes.)
END_PATTERN = f"[.!?\u2026]+{_CLOSERS}{_SPACE}+|[\u3002\uff01\uff1f]+{_CLOSERS}{_SPACE}*|\n{_SPACE}*"
_END = re.compile(END_PATTERN)
# Inserted after every sentence end to split on: a Unicode noncharacter; texts that contain it are cut in Python.
_MARK = "\uffff"


def sentence_spans(text: str) -> list[str]:
    """``text`` cut into sentences that concatenate back to exactly ``text``."""
    spans = []
    start = 0
    for match in _END.finditer(text):
        end = match.end()
        if end > start:
            spans.append(text[start:end])
            start = end
    if start < len(text):
        spans.append(text[start:])
    return spans


def split_batch(texts: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Every text of ``texts`` cut as :func:`sentence_spans` cuts it, in one vectorised pass.

    Returns the sentences of all texts in order (a flat string array) and, for
    each, the index of its text. Null and empty texts have no sentences.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.string())
    marked = pc.replace_substring_regex(texts, END_PATTERN, "\\0" + _MARK)
    pieces = pc.split_pattern(marked, _MARK)
    flat = pieces.flatten()
    rows = np.asarray(pc.list_parent_indices(pieces), dtype=np.int64)
    # a text ending at a sentence end leaves an empty piece after its last mark, and "" splits to [""]
    nonempty = pc.greater(pc.binary_length(flat), 0)
    flat, rows = flat.filter(nonempty), rows[np.asarray(nonempty, dtype=bool)]
    clash = pc.match_substring(texts, _MARK).fill_null(False)
    if pc.any(clash).as_py():  # the mark is part of the text: cut those texts one by one
        return _resplit(texts, flat, rows, np.flatnonzero(np.asarray(clash, dtype=bool)))
    return flat, rows


def _resplit(texts: pa.Array, flat: pa.Array, rows: np.ndarray, bad: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    keep = ~np.isin(rows, bad)
    sentences, owners = flat.filter(pa.array(keep)).to_pylist(), rows[keep].tolist()
    for i in bad.tolist():
        spans = sentence_spans(texts[i].as_py())
        sentences += spans
        owners += [i] * len(spans)
    order = np.argsort(np.asarray(owners, dtype=np.int64), kind="stable")
    return pa.array([sentences[j] for j in order], flat.type), np.asarray(owners, dtype=np.int64)[order]
