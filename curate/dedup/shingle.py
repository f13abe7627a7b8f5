"""Text normalisation and shingle hashing over whole Arrow batches."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa

from curate.dedup import _kernels

# Unicode punctuation and symbols (Rust regex classes, so non-ASCII text is
# handled like ASCII). Replaced by a space: "and/or" gives two words.
_PUNCT = r"[\p{P}\p{S}]+"
_PUNCT_OR_SPACE = r"[\p{P}\p{S}\s]+"
_DIGITS = r"\p{Nd}+"
_SPACE = r"\s+"


@dataclass(frozen=True)
class ShingleConfig:
    """How documents become sets of shingles."""

    unit: Literal["word", "char"] = "word"
    n: int = 5
    lowercase: bool = True
    punctuation: bool = True
    digits: bool = True
    whitespace: bool = True
    #: Documents longer than this many bytes are shingled in overlapping
    #: pieces whose MinHash bins are merged, so working memory per document
    #: stays bounded while every shingle still counts (nothing is cut off).
    max_piece_bytes: int = 1 << 20
    #: Overlap between consecutive pieces, in bytes; a shingle shorter than
    #: this always lies whole inside some piece.
    piece_overlap: int = 4096


@lru_cache(maxsize=1)
def char_classes() -> np.ndarray:
    """Class of every code point for the compiled normaliser: punctuation and
    symbols (categories P*, S*), decimal digits (Nd), white space, other.

    The classes come from the same regular-expression engine as
    :func:`normalize_regex`, so both agree on every code point, including
    those newer than Python's own Unicode tables.
    """
    points = np.arange(0x110000, dtype=np.uint32)
    points = points[(points < 0xD800) | (points > 0xDFFF)]  # surrogates are not characters
    chars = pl.Series(values=[chr(cp) for cp in points.tolist()], dtype=pl.String)
    classes = np.zeros(0x110000, dtype=np.uint8)
    classes[points[chars.str.contains(_PUNCT).to_numpy()]] = _kernels.CLASS_PUNCT
    classes[points[chars.str.contains(_DIGITS).to_numpy()]] = _kernels.CLASS_DIGIT
    classes[points[chars.str.contains(_SPACE).to_numpy()]] = _kernels.CLASS_SPACE
    return classes


def normalize(texts: pa.Array | pa.ChunkedArray, cfg: ShingleConfig) -> pa.Array:
    """Apply the switched-on normalisations to a string column.

    Word shingles always split on any Unicode whitespace and rejoin the words
    with one space (the shingle kernels rely on it), so ``whitespace`` only
    changes character shingles. Lowercasing runs in polars; the rest in one
    compiled pass equal to :func:`normalize_regex` (the tests compare them).
    """
    s = pl.Series(values=texts).cast(pl.String)
    if cfg.lowercase:
        s = s.str.to_lowercase()
    arr = s.fill_null("").to_arrow().cast(pa.large_string())
    spaces = cfg.unit == "word" or cfg.whitespace
    if not (cfg.punctuation or cfg.digits or spaces):
        return arr
    data, offsets = buffers(arr)
    out, out_off = _kernels.normalize_utf8(data, offsets, char_classes(), cfg.punctuation, cfg.digits, spaces)
    return pa.LargeStringArray.from_buffers(len(arr), pa.py_buffer(out_off), pa.py_buffer(out))


def normalize_regex(texts: pa.Array | pa.ChunkedArray, cfg: ShingleConfig) -> pa.Array:
    """The same normalisation with polars regular expressions (the reference)."""
    s = pl.Series(values=texts).cast(pl.String)
    if cfg.lowercase:
        s = s.str.to_lowercase()
    spaces = cfg.unit == "word" or cfg.whitespace
    if cfg.punctuation:
        # one regex pass does both jobs when whitespace is collapsed anyway
        s = s.str.replace_all(_PUNCT_OR_SPACE if spaces else _PUNCT, " ")
    elif spaces:
        s = s.str.replace_all(_SPACE, " ")
    if cfg.digits:
        s = s.str.replace_all(_DIGITS, "0")
    if spaces:
        s = s.str.strip_chars(" ")
    return s.fill_null("").to_arrow().cast(pa.large_string())


def split_long(texts: list[str | None], cfg: ShingleConfig) -> tuple[list[str], np.ndarray]:
    """Cut documents longer than ``cfg.max_piece_bytes`` into overlapping pieces.

    Returns the pieces and, for each piece, the index of its document. Pieces
    are cut at whitespace when there is some near the cut, and overlap by
    ``cfg.piece_overlap`` bytes, so the shingles of the pieces together are
    the shingles of the document (some counted twice, which MinHash ignores).
    Lengths are measured in characters, which bounds bytes within 4x.
    """
    limit, overlap = cfg.max_piece_bytes, cfg.piece_overlap
    pieces: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        text = text or ""
        if len(text) <= limit:
            pieces.append(text)
            owner.append(i)
            continue
        start = 0
        while True:
            end = min(len(text), start + limit)
            if end < len(text):
                cut = text.rfind(" ", start + limit // 2, end)
                end = cut if cut > start else end
            pieces.append(text[start:end])
            owner.append(i)
            if end >= len(text):
                break
            nxt = text.find(" ", max(start + 1, end - overlap), end)
            start = nxt + 1 if nxt >= 0 else max(start + 1, end - overlap)
    return pieces, np.asarray(owner, dtype=np.int64)


def buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The bytes and int64 offsets of a (large_)string array, zero-copy where possible."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    return data, offsets


def shingle_hashes(norm: pa.Array, cfg: ShingleConfig, seed: int = 0, chained: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """uint32 hashes of every shingle of every normalised document and per-document offsets.

    With ``chained`` (word shingles only) each word is hashed once and the
    shingle hash chains the word hashes; otherwise each shingle is the XXH32 of
    its UTF-8 bytes (words joined by one space), which is what a
    ``datasketch.MinHash(hashfunc=xxhash.xxh32_intdigest)`` sees.
    """
    data, offsets = buffers(norm)
    if chained and cfg.unit == "word":
        return _kernels.word_chain_hashes(data, offsets, cfg.n, seed)
    return _kernels.shingle_hashes(data, offsets, cfg.n, cfg.unit == "char", seed)


def python_shingles(norm_text: str, cfg: ShingleConfig) -> list[bytes]:
    """The shingles of one normalised document as bytes, in plain Python.

    A slow reference for tests and for interoperating with ``datasketch``.
    """
    if not norm_text:
        return []
    units = list(norm_text) if cfg.unit == "char" else norm_text.split(" ")
    sep = "" if cfg.unit == "char" else " "
    if len(units) < cfg.n:
        return [norm_text.encode()]
    return [sep.join(units[i : i + cfg.n]).encode() for i in range(len(units) - cfg.n + 1)]
