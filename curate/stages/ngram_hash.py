"""N-grams of a whole batch as 64-bit hashes: counted per document in numpy, grown one word at a time."""

from __future__ import annotations

import numpy as np

MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def bigram_starts(doc: np.ndarray) -> np.ndarray:
    """Positions where a 2-gram starts (the next word is in the same document)."""
    return np.flatnonzero(doc[:-1] == doc[1:]) if len(doc) > 1 else np.zeros(0, dtype=np.int64)


def combine(hashes: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The hash of each n-gram extended by one word id (a polynomial rolling hash)."""
    with np.errstate(over="ignore"):
        return hashes * MULTIPLIER + ids


def extend(starts: np.ndarray, hashes: np.ndarray, ids: np.ndarray, doc: np.ndarray,
           n: int) -> tuple[np.ndarray, np.ndarray]:
    """Grow the n-grams starting at ``starts`` by the next word; those that would leave their document go."""
    following = starts + n
    inside = following < len(ids)
    inside[inside] = doc[following[inside]] == doc[starts[inside]]
    return starts[inside], combine(hashes[inside], ids[following[inside]])


def occurrence_counts(keys: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each n-gram occurrence: how often its n-gram occurs in its document, and a dense id of that
    (document, n-gram) pair."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keyed = combine(keys, doc.astype(np.uint64))  # the document is mixed in: n-grams count per document
    _, inverse, counts = np.unique(keyed, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    return counts[inverse], inverse
