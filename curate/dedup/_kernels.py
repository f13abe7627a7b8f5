"""Compiled inner loops (numba) for shingling, hashing and MinHash.

Everything here works on flat buffers (an Arrow string column's bytes and
offsets) so a whole batch is handled in one call, without a Python-level loop
over tokens. Each kernel has a plain reference that the tests compare against:
``xxh32`` against the ``xxhash`` package, ``affine32_signatures`` against
``datasketch.MinHash``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_U32 = np.uint64(0xFFFFFFFF)
_P32_1 = np.uint64(0x9E3779B1)
_P32_2 = np.uint64(0x85EBCA77)
_P32_3 = np.uint64(0xC2B2AE3D)
_P32_4 = np.uint64(0x27D4EB2F)
_P32_5 = np.uint64(0x165667B1)
#: Empty-bin marker of one-permutation hashing; real values are capped below it.
EMPTY = np.uint32(0xFFFFFFFF)


@njit(inline="always", cache=True)
def _mix64(x):
    """splitmix64 finaliser: a fixed bijection with full avalanche."""
    x = np.uint64(x)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@njit(inline="always", cache=True)
def _rotl32(x, r):
    x &= _U32
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & _U32


@njit(inline="always", cache=True)
def _read32(data, p):
    return (
        np.uint64(data[p])
        | (np.uint64(data[p + 1]) << np.uint64(8))
        | (np.uint64(data[p + 2]) << np.uint64(16))
        | (np.uint64(data[p + 3]) << np.uint64(24))
    )


@njit(inline="always", cache=True)
def _round32(acc, lane):
    acc = (acc + lane * _P32_2) & _U32
    return (_rotl32(acc, 13) * _P32_1) & _U32


@njit(cache=True)
def xxh32(data, start, end, seed):
    """XXH32 of ``data[start:end]`` (same value as ``xxhash.xxh32_intdigest``)."""
    p = start
    length = end - start
    seed = np.uint64(seed) & _U32
    if length >= 16:
        v1 = (seed + _P32_1 + _P32_2) & _U32
        v2 = (seed + _P32_2) & _U32
        v3 = seed
        v4 = (seed - _P32_1) & _U32
        limit = end - 16
        while p <= limit:
            v1 = _round32(v1, _read32(data, p))
            v2 = _round32(v2, _read32(data, p + 4))
            v3 = _round32(v3, _read32(data, p + 8))
            v4 = _round32(v4, _read32(data, p + 12))
            p += 16
        h = (_rotl32(v1, 1) + _rotl32(v2, 7) + _rotl32(v3, 12) + _rotl32(v4, 18)) & _U32
    else:
        h = (seed + _P32_5) & _U32
    h = (h + np.uint64(length)) & _U32
    while p + 4 <= end:
        h = (h + _read32(data, p) * _P32_3) & _U32
        h = (_rotl32(h, 17) * _P32_4) & _U32
        p += 4
    while p < end:
        h = (h + np.uint64(data[p]) * _P32_5) & _U32
        h = (_rotl32(h, 11) * _P32_1) & _U32
        p += 1
    h ^= h >> np.uint64(15)
    h = (h * _P32_2) & _U32
    h ^= h >> np.uint64(13)
    h = (h * _P32_3) & _U32
    h ^= h >> np.uint64(16)
    return np.uint32(h)


@njit(cache=True)
def _unit_starts(data, s, e, char_mode, starts):
    """Fill ``starts`` with the byte offset of every unit (word or code point)
    of ``data[s:e]``, followed by a closing offset; return the unit count.

    For words the closing entry is ``e + 1`` so that a word always ends one
    byte before the next entry (its separator or the virtual one at the end).
    """
    m = 0
    if char_mode:
        for p in range(s, e):
            if (data[p] & 0xC0) != 0x80:
                starts[m] = p
                m += 1
        starts[m] = e
    else:
        starts[0] = s
        m = 1
        for p in range(s, e):
            if data[p] == 32:
                starts[m] = p + 1
                m += 1
        starts[m] = e + 1
    return m


@njit(cache=True)
def _shingle_counts(data, offsets, n, char_mode):
    ndocs = len(offsets) - 1
    doc_off = np.zeros(ndocs + 1, dtype=np.int64)
    longest = 0
    for d in range(ndocs):
        s = offsets[d]
        e = offsets[d + 1]
        longest = max(longest, e - s)
        m = 0
        if e > s:
            if char_mode:
                for p in range(s, e):
                    if (data[p] & 0xC0) != 0x80:
                        m += 1
            else:
                m = 1
                for p in range(s, e):
                    if data[p] == 32:
                        m += 1
        count = 0 if m == 0 else (1 if m < n else m - n + 1)
        doc_off[d + 1] = doc_off[d] + count
    return doc_off, longest


@njit(cache=True)
def shingle_hashes(data, offsets, n, char_mode, seed):
    """XXH32 of every shingle's bytes, for every document in a string buffer.

    ``data``/``offsets`` are an Arrow string column's bytes and offsets.
    Word mode expects tokens separated by exactly one space (the normaliser
    guarantees it): shingle ``i`` is then the contiguous byte range from the
    start of token ``i`` to the end of token ``i + n - 1``, i.e. the tokens
    joined by one space. Character mode uses ``n`` consecutive code points.
    A document with fewer than ``n`` units but at least one is a single
    shingle (its whole text); an empty document has none. Working memory is
    the output plus one offset array as long as the longest document.

    Returns the flat uint32 hashes and per-document offsets into them.
    """
    doc_off, longest = _shingle_counts(data, offsets, n, char_mode)
    out = np.empty(doc_off[-1], dtype=np.uint32)
    starts = np.empty(longest + 2, dtype=np.int64)
    for d in range(len(offsets) - 1):
        s = offsets[d]
        e = offsets[d + 1]
        k = doc_off[d]
        if doc_off[d + 1] == k:
            continue
        m = _unit_starts(data, s, e, char_mode, starts[: longest + 2])
        # _unit_starts wrote absolute offsets; reuse them directly
        if m < n:
            out[k] = xxh32(data, s, e, seed)
        else:
            for i in range(m - n + 1):
                stop = starts[i + n] if char_mode else starts[i + n] - 1
                out[k + i] = xxh32(data, starts[i], stop, seed)
    return out, doc_off


@njit(cache=True)
def word_chain_hashes(data, offsets, n, seed):
    """Faster word shingles for the ``fast`` scheme: each word is hashed once
    (XXH32, spread to 64 bits) and a shingle's hash is a rolling polynomial of
    its ``n`` word hashes (mod 2^64, order-sensitive) passed through a 64-bit
    mixer, so the cost is per word, not per word times ``n``. Same shingle
    boundaries as :func:`shingle_hashes` in word mode."""
    doc_off, longest = _shingle_counts(data, offsets, n, False)
    out = np.empty(doc_off[-1], dtype=np.uint32)
    starts = np.empty(longest + 2, dtype=np.int64)
    words = np.empty(longest + 2, dtype=np.uint64)
    mult = np.uint64(0x9E3779B97F4A7C15)
    salt = _mix64(np.uint64(seed) + np.uint64(0x632BE59BD9B4E019))
    top = np.uint64(1)
    for _ in range(n - 1):
        top *= mult  # mult ** (n - 1): weight of the word leaving the window
    for d in range(len(offsets) - 1):
        s = offsets[d]
        e = offsets[d + 1]
        k = doc_off[d]
        count = doc_off[d + 1] - k
        if count == 0:
            continue
        m = _unit_starts(data, s, e, False, starts)
        for t in range(m):
            words[t] = _mix64(np.uint64(xxh32(data, starts[t], starts[t + 1] - 1, 0)))
        width = n if m >= n else m
        h = np.uint64(0)
        for t in range(width):
            h = h * mult + words[t]
        out[k] = np.uint32(_mix64(h ^ salt) >> np.uint64(32))
        for i in range(1, count):
            h = (h - words[i - 1] * top) * mult + words[i + n - 1]
            out[k + i] = np.uint32(_mix64(h ^ salt) >> np.uint64(32))
    return out, doc_off


@njit(inline="always", cache=True)
def _fmix32(h):
    h = np.uint32(h)
    h ^= h >> np.uint32(16)
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h ^= h >> np.uint32(13)
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    h ^= h >> np.uint32(16)
    return h


@njit(cache=True)
def affine32_signatures(hashes, doc_off, a, b):
    """datasketch's ``affine32`` MinHash: min over shingles of ``a*fmix32(h)+b mod 2^32``."""
    ndocs = len(doc_off) - 1
    k = len(a)
    sig = np.full((ndocs, k), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    for d in range(ndocs):
        row = sig[d]
        for i in range(doc_off[d], doc_off[d + 1]):
            hv = _fmix32(hashes[i])
            for j in range(k):
                v = np.uint32(a[j] * hv + b[j])
                if v < row[j]:
                    row[j] = v
    return sig


@njit(cache=True)
def oph_bins(hashes, doc_off, k, seed):
    """One-permutation hashing: each shingle lands in one of ``k`` bins by its
    hash, and each bin keeps its minimum. Empty bins hold ``EMPTY``.

    The result is min-combinable (chunks of one document can be merged with
    ``np.minimum``) and is turned into a signature by :func:`densify`.
    """
    ndocs = len(doc_off) - 1
    out = np.full((ndocs, k), np.uint32(0xFFFFFFFF), dtype=np.uint32)
    salt = _mix64(np.uint64(seed) + np.uint64(0x9E3779B97F4A7C15))
    kk = np.uint64(k)
    for d in range(ndocs):
        row = out[d]
        for i in range(doc_off[d], doc_off[d + 1]):
            x = _mix64(np.uint64(hashes[i]) ^ salt)
            j = ((x >> np.uint64(32)) * kk) >> np.uint64(32)
            v = np.uint32(x & np.uint64(0xFFFFFFFF))
            if v == np.uint32(0xFFFFFFFF):
                v = np.uint32(0xFFFFFFFE)
            if v < row[j]:
                row[j] = v
    return out


@njit(cache=True)
def densify(bins, seed):
    """Optimal densification (Shrivastava, 2017): an empty bin copies the value
    of the first non-empty bin along its own pseudo-random probe sequence.

    Every document follows the same sequences, so two documents agree on a
    filled bin exactly as often as on a real one, which keeps the estimator
    unbiased. Rows with no shingles stay all ``EMPTY``.
    """
    ndocs, k = bins.shape
    out = bins.copy()
    kk = np.uint64(k)
    salt = _mix64(np.uint64(seed) ^ np.uint64(0xD6E8FEB86659FD93))
    for d in range(ndocs):
        row = bins[d]
        filled = 0
        for j in range(k):
            if row[j] != np.uint32(0xFFFFFFFF):
                filled += 1
        if filled == 0 or filled == k:
            continue
        for j in range(k):
            if row[j] != np.uint32(0xFFFFFFFF):
                continue
            attempt = np.uint64(0)
            while True:
                x = _mix64(salt ^ (np.uint64(j) << np.uint64(32)) ^ attempt)
                t = ((x >> np.uint64(32)) * kk) >> np.uint64(32)
                if row[t] != np.uint32(0xFFFFFFFF):
                    out[d, j] = row[t]
                    break
                attempt += np.uint64(1)
    return out


@njit(cache=True)
def band_keys(sig, bands, rows, seed):
    """One 64-bit key per (document, band); the band index is mixed in so keys
    of different bands never meet in one bucket."""
    ndocs = sig.shape[0]
    out = np.empty((ndocs, bands), dtype=np.uint64)
    for d in range(ndocs):
        for bi in range(bands):
            h = _mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(bi + 1))
            for r in range(rows):
                h = _mix64(h ^ np.uint64(sig[d, bi * rows + r]))
            out[d, bi] = h
    return out


@njit(cache=True)
def sorted_jaccard(left_vals, left_off, right_vals, right_off):
    """Exact Jaccard of pairs of sorted, duplicate-free uint32 sets."""
    npairs = len(left_off) - 1
    out = np.empty(npairs, dtype=np.float64)
    for q in range(npairs):
        i = left_off[q]
        ie = left_off[q + 1]
        j = right_off[q]
        je = right_off[q + 1]
        na = ie - i
        nb = je - j
        inter = 0
        while i < ie and j < je:
            x = left_vals[i]
            y = right_vals[j]
            if x == y:
                inter += 1
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        union = na + nb - inter
        out[q] = inter / union if union > 0 else 0.0
    return out


# Character classes for :func:`normalize_utf8` (see curate.dedup.shingle.char_classes).
CLASS_OTHER, CLASS_PUNCT, CLASS_DIGIT, CLASS_SPACE = 0, 1, 2, 3


@njit(cache=True)
def normalize_utf8(data, offsets, classes, punct, digits, spaces):
    """One pass over UTF-8 text doing what these regex replacements do, in order:
    runs of punctuation/symbols (plus whitespace when ``spaces``) -> one space;
    otherwise, with ``spaces``, runs of whitespace -> one space; runs of
    decimal digits -> "0"; with ``spaces``, strip spaces at both ends.

    ``classes`` maps every code point to a CLASS_* value. Bytes that do not
    decode are copied as they are.
    """
    ndocs = len(offsets) - 1
    out = np.empty(len(data), dtype=np.uint8)
    out_off = np.zeros(ndocs + 1, dtype=np.int64)
    k = 0
    for d in range(ndocs):
        p = offsets[d]
        e = offsets[d + 1]
        doc_start = k
        prev_run = 0
        while p < e:
            b0 = np.int64(data[p])
            size = 1
            cp = b0
            if b0 >= 0xF0 and p + 3 < e:
                cp = ((b0 & 0x07) << 18) | ((np.int64(data[p + 1]) & 0x3F) << 12) | ((np.int64(data[p + 2]) & 0x3F) << 6) | (np.int64(data[p + 3]) & 0x3F)
                size = 4
            elif b0 >= 0xE0 and p + 2 < e:
                cp = ((b0 & 0x0F) << 12) | ((np.int64(data[p + 1]) & 0x3F) << 6) | (np.int64(data[p + 2]) & 0x3F)
                size = 3
            elif b0 >= 0xC0 and p + 1 < e:
                cp = ((b0 & 0x1F) << 6) | (np.int64(data[p + 1]) & 0x3F)
                size = 2
            cls = classes[cp] if cp < len(classes) else CLASS_OTHER
            run = 0
            if cls == CLASS_PUNCT and punct:
                run = 1
            elif cls == CLASS_SPACE and spaces:
                run = 1
            elif cls == CLASS_DIGIT and digits:
                run = 2
            if run == 0:
                for q in range(size):
                    out[k] = data[p + q]
                    k += 1
            elif run != prev_run:
                if run == 2:
                    out[k] = 48  # "0"
                    k += 1
                elif not (spaces and k == doc_start):
                    out[k] = 32
                    k += 1
            prev_run = run
            p += size
        if spaces and k > doc_start and out[k - 1] == 32:
            k -= 1
        out_off[d + 1] = k
    return out[:k], out_off


@njit(cache=True)
def distinct_per_doc(hashes, doc_off):
    """Each document's shingle hashes sorted with repeats removed (flat values, offsets)."""
    ndocs = len(doc_off) - 1
    out = np.empty(len(hashes), dtype=np.uint32)
    out_off = np.zeros(ndocs + 1, dtype=np.int64)
    k = 0
    for d in range(ndocs):
        seg = np.sort(hashes[doc_off[d] : doc_off[d + 1]])
        for i in range(len(seg)):
            if i == 0 or seg[i] != seg[i - 1]:
                out[k] = seg[i]
                k += 1
        out_off[d + 1] = k
    return out[:k], out_off
