"""The paper's document graph: an undirected edge joins documents i and j when
either is in the other's top-k, weighted by their similarity (the larger of the
two directions, which can differ by rounding or approximate search).

It is stored as CSR (``indptr``, ``indices``, ``weights``) with both directions
of every edge, each node's neighbours sorted by weight descending and then by
index, so the traversal's "most similar unvisited neighbour" is the first
unvisited entry of a row.

Sizes: 1M documents × k=50 give up to 100M directed entries, so indices are
int32 and weights float32 (800 MB), ``indptr`` int64. The build is a counting
sort by node (two linear passes) followed by a per-row dedup and sort in
compiled code, not a global ``argsort``: on this kind of machine a 100M-element
int64 ``argsort`` alone takes ~50 s and needs another 800 MB for the
permutation, while rows are only ~k..2k long and sort in cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

_LOW32 = np.uint64(0xFFFFFFFF)
_SIGN32 = np.uint64(0x80000000)
_SHIFT = np.uint64(32)


@dataclass(frozen=True)
class Graph:
    """Undirected kNN graph in CSR form. Row ``i`` is
    ``indices[indptr[i]:indptr[i+1]]`` (int32), with ``weights`` (float32) in
    the same order, best first; ``degrees`` (int32) is the row length."""

    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    degrees: np.ndarray

    @property
    def n(self) -> int:
        return int(self.degrees.size)

    @property
    def num_edges(self) -> int:
        """Undirected edges (each is stored twice)."""
        return int(self.indices.size // 2)

    def neighbors(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i]:self.indptr[i + 1]]


@njit(cache=True)
def _valid(i, j, n):
    return 0 <= j < n and j != i


@njit(cache=True)
def _count(neighbors, n):
    """Entries per row, both directions, duplicates included."""
    counts = np.zeros(n, np.int64)
    for i in range(n):
        for c in range(neighbors.shape[1]):
            j = neighbors[i, c]
            if _valid(i, j, n):
                counts[i] += 1
                counts[j] += 1
    return counts


@njit(cache=True)
def _fill(neighbors, wbits, indptr, indices, values):
    """Scatter every edge into both endpoints' rows (counting sort by node)."""
    n = neighbors.shape[0]
    cursor = indptr[:-1].copy()
    for i in range(n):
        for c in range(neighbors.shape[1]):
            j = neighbors[i, c]
            if _valid(i, j, n):
                w = wbits[i, c]
                indices[cursor[i]] = j
                values[cursor[i]] = w
                cursor[i] += 1
                indices[cursor[j]] = i
                values[cursor[j]] = w
                cursor[j] += 1


@njit(cache=True)
def _ascending(bits):
    """float32 bit pattern -> uint32 (as uint64) that sorts like the float."""
    b = np.uint64(bits)
    if b & _SIGN32:
        return _LOW32 - b
    return b | _SIGN32


@njit(cache=True)
def _float_bits(asc):
    """Inverse of ``_ascending``."""
    if asc & _SIGN32:
        return np.uint32(asc ^ _SIGN32)
    return np.uint32(_LOW32 - asc)


@njit(cache=True)
def _dedup_sort_rows(indptr, indices, values, lo, hi, slot, nbr, best, keys):
    """For rows lo..hi: merge duplicate neighbours keeping the larger weight,
    sort by (weight desc, index asc), write the result at the row's start.
    Returns the new row lengths. ``slot`` is an all -1 array of size n (left
    all -1 again) mapping a neighbour to its place in the row being built."""
    deg = np.zeros(hi - lo, np.int32)
    for i in range(lo, hi):
        s = indptr[i]
        m = 0
        for p in range(s, indptr[i + 1]):
            j = indices[p]
            asc = _ascending(values[p])
            q = slot[j]
            if q < 0:
                slot[j] = m
                nbr[m] = j
                best[m] = asc
                m += 1
            elif asc > best[q]:
                best[q] = asc
        for t in range(m):
            slot[nbr[t]] = -1
            keys[t] = ((_LOW32 - best[t]) << _SHIFT) | np.uint64(nbr[t])  # weight desc, then index asc
        row = keys[:m]
        row.sort()
        for t in range(m):
            key = row[t]
            indices[s + t] = np.int32(key & _LOW32)
            values[s + t] = _float_bits(_LOW32 - (key >> _SHIFT))
        deg[i - lo] = m
    return deg


@njit(cache=True, parallel=True)
def _dedup_sort(indptr, indices, values, chunks):
    n = indptr.size - 1
    counts = indptr[1:] - indptr[:-1]
    width = counts.max() if n else 0
    deg = np.zeros(n, np.int32)
    step = (n + chunks - 1) // chunks
    for c in prange(chunks):
        lo = min(n, c * step)
        hi = min(n, lo + step)
        if lo >= hi:
            continue
        slot = np.full(n, -1, np.int32)
        nbr = np.empty(width, np.int32)
        best = np.empty(width, np.uint64)
        keys = np.empty(width, np.uint64)
        deg[lo:hi] = _dedup_sort_rows(indptr, indices, values, lo, hi, slot, nbr, best, keys)
    return deg


@njit(cache=True)
def _compact(indptr, new_indptr, indices, values, out_indices, out_values):
    for i in range(new_indptr.size - 1):
        s = indptr[i]
        d = new_indptr[i]
        for t in range(new_indptr[i + 1] - d):
            out_indices[d + t] = indices[s + t]
            out_values[d + t] = values[s + t]


def build_graph(neighbors: np.ndarray, similarities: np.ndarray) -> Graph:
    """The symmetric kNN graph from ``knn``'s lists (``n × k``; ``-1``, out of
    range and self entries are ignored). An edge's weight is the larger of its
    two directed similarities."""
    nb = np.ascontiguousarray(neighbors, dtype=np.int64)
    sims = np.ascontiguousarray(similarities, dtype=np.float32)
    if nb.ndim != 2 or nb.shape != sims.shape:
        raise ValueError(f"neighbors {nb.shape} and similarities {sims.shape} must be the same n × k shape")
    n = nb.shape[0]
    if n >= 2**31:
        raise ValueError("more than 2^31 documents do not fit int32 indices")
    counts = _count(nb, n)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts
    indices = np.empty(int(indptr[-1]), np.int32)
    values = np.empty(int(indptr[-1]), np.uint32)  # float32 bit patterns, so the kernels sort them as integers
    _fill(nb, sims.view(np.uint32), indptr, indices, values)
    degrees = _dedup_sort(indptr, indices, values, max(1, 4 * numba.get_num_threads()))
    new_indptr = np.zeros(n + 1, np.int64)
    np.cumsum(degrees, out=new_indptr[1:])
    out_indices = np.empty(int(new_indptr[-1]), np.int32)
    out_values = np.empty(int(new_indptr[-1]), np.uint32)
    _compact(indptr, new_indptr, indices, values, out_indices, out_values)
    return Graph(new_indptr, out_indices, out_values.view(np.float32), degrees)
