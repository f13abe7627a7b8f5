"""LSH banding: choosing bands x rows, band keys, and candidate pairs from buckets."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.integrate import quad

from curate.dedup import _kernels


def _false_positive_area(threshold: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]


def _false_negative_area(threshold: float, b: int, r: int) -> float:
    return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]


@lru_cache(maxsize=256)
def optimal_param(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted areas under the S-curve's false
    positive and false negative regions, searched the same way as
    ``datasketch.MinHashLSH`` does (all ``b * r <= num_perm``)."""
    best, best_err = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            err = (_false_positive_area(threshold, b, r) * false_positive_weight
                   + _false_negative_area(threshold, b, r) * false_negative_weight)
            if err < best_err:
                best, best_err = (b, r), err
    return best


def band_keys(sig: np.ndarray, bands: int, rows: int, seed: int = 0) -> np.ndarray:
    """(ndocs, bands) uint64 bucket keys; documents agreeing on all ``rows``
    values of a band share that band's key."""
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands*rows = {bands * rows} exceeds num_perm = {sig.shape[1]}")
    return _kernels.band_keys(np.ascontiguousarray(sig), bands, rows, seed)


def bucket_edges(keys: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Candidate edges from (key, node) rows: within each bucket every member
    is linked to the bucket's smallest node (a star: ``m - 1`` edges for ``m``
    members instead of ``m^2 / 2`` pairs; connectivity is the same).

    Returns (src, dst) with src < dst, duplicates removed.
    """
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    order = np.lexsort((nodes, keys))
    k, v = keys[order], nodes[order]
    first = np.r_[True, k[1:] != k[:-1]]
    head = np.maximum.accumulate(np.where(first, np.arange(len(k)), 0))
    src, dst = v[head], v
    keep = src != dst
    return unique_edges(src[keep], dst[keep])


def unique_edges(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges as (min, max) pairs, sorted and de-duplicated."""
    lo, hi = np.minimum(src, dst).astype(np.int64), np.maximum(src, dst).astype(np.int64)
    order = np.lexsort((hi, lo))
    lo, hi = lo[order], hi[order]
    keep = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])] if len(lo) else np.zeros(0, bool)
    return lo[keep], hi[keep]


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort, which beats numpy's hash-based unique here)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values
