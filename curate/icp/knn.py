"""Nearest neighbours of every document by inner product (cosine on L2-normalised
embeddings), with FAISS.

Up to ``exact_max`` documents the search is exact (``IndexFlatIP``): it is fast
enough there and its lists are the ground truth. Above it an approximate index
takes over, HNSW by default (no training, high recall at k=50) or IVF-Flat
(cheaper to build, recall set by ``nprobe``). The paper used ``IVF32768,PQ256``
on 235M documents; Flat storage is kept here because PQ's error would reorder
the close neighbours the traversal depends on, and memory is not the limit at
the sizes one machine handles.

Every query asks for ``k + 1`` results and the document itself is removed, so
each list holds ``k`` *other* documents. Slots an index could not fill are
``-1`` with similarity ``-inf``; consumers skip them.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Literal

import numpy as np

MISSING = -1


@contextlib.contextmanager
def _omp_threads(threads: int | None) -> Iterator[None]:
    """Set FAISS's OpenMP thread count for the block only, so a caller's
    setting (or Ray's per-task CPU share) is not silently changed."""
    import faiss

    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(threads))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def default_nlist(n: int) -> int:
    """IVF list count: ~4·sqrt(n), the usual rule of thumb, capped so every list
    gets at least 39 training points (FAISS's own minimum)."""
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def _build_index(
    x: np.ndarray,
    k: int,
    exact: bool,
    index: str,
    hnsw_m: int,
    ef_construction: int,
    ef_search: int,
    nlist: int | None,
    nprobe: int,
):
    import faiss

    n, d = x.shape
    if exact:
        idx = faiss.IndexFlatIP(d)
    elif index == "hnsw":
        idx = faiss.IndexHNSWFlat(d, int(hnsw_m), faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = int(ef_construction)
        idx.hnsw.efSearch = max(int(ef_search), k + 1)  # efSearch below k would truncate the lists
    elif index == "ivf":
        lists = default_nlist(n) if nlist is None else max(1, min(int(nlist), n))
        quantizer = faiss.IndexFlatIP(d)
        idx = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_INNER_PRODUCT)
        idx.cp.min_points_per_centroid = 1  # a user-given nlist on a small n should not warn
        idx.train(x)
        idx.nprobe = max(1, min(int(nprobe), lists))
    else:
        raise ValueError(f"index must be 'hnsw' or 'ivf', not {index!r}")
    idx.add(x)
    return idx


def _drop_self(ids: np.ndarray, sims: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Remove each query's own id from its ``k + 1`` results, or the last
    result when the index did not return it (an approximate index can miss it,
    and a document with more than ``k`` exact duplicates may be crowded out)."""
    m, k1 = ids.shape
    own = ids == rows[:, None]
    first = own & (np.cumsum(own, axis=1) == 1)
    first[~first.any(axis=1), k1 - 1] = True
    keep = ~first
    out_ids = ids[keep].reshape(m, k1 - 1)
    out_sims = sims[keep].reshape(m, k1 - 1)
    bad = (out_ids == rows[:, None]) | (out_ids < 0)  # a repeated self id, or an unfilled slot
    out_ids[bad] = MISSING
    out_sims[bad] = -np.inf
    return out_ids, out_sims


def knn(
    embeddings: np.ndarray,
    k: int,
    exact_max: int = 100_000,
    index: Literal["hnsw", "ivf"] = "hnsw",
    hnsw_m: int = 32,
    ef_construction: int = 80,
    ef_search: int = 128,
    nlist: int | None = None,
    nprobe: int = 16,
    threads: int | None = None,
    batch_size: int = 65_536,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar other documents of every document.

    ``embeddings``: float32 ``n × d``, rows L2-normalised (so inner product is
    cosine similarity). Returns ``(neighbors int64 n × k, similarities float32
    n × k)``, each row best first; ``k`` shrinks to ``n - 1`` when there are
    fewer other documents; unfilled slots are ``-1`` / ``-inf``. Exact search
    when ``n <= exact_max``, else the ``index`` approximate one. Queries run in
    batches of ``batch_size`` so FAISS's ``k + 1``-wide scratch stays small.
    """
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n × d), got shape {x.shape}")
    n = x.shape[0]
    k = max(0, min(int(k), n - 1))
    neighbors = np.full((n, k), MISSING, dtype=np.int64)
    similarities = np.full((n, k), -np.inf, dtype=np.float32)
    if k == 0:
        return neighbors, similarities
    with _omp_threads(threads):
        idx = _build_index(x, k, n <= exact_max, index, hnsw_m, ef_construction, ef_search, nlist, nprobe)
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            sims, ids = idx.search(x[start:stop], k + 1)
            neighbors[start:stop], similarities[start:stop] = _drop_self(ids, sims, np.arange(start, stop))
    return neighbors, similarities


def recall_at(approx_neighbors: np.ndarray, exact_neighbors: np.ndarray, k: int) -> float:
    """Share of the exact top-``k`` neighbours that the approximate top-``k``
    lists also contain (rows aligned; ``-1`` slots in the exact lists do not
    count). 1.0 when there is nothing to find."""
    a = np.asarray(approx_neighbors)[:, :k]
    e = np.asarray(exact_neighbors)[:, :k]
    if a.shape[0] != e.shape[0]:
        raise ValueError("approx and exact lists must have the same number of rows")
    found = 0
    total = 0
    for start in range(0, a.shape[0], 4096):  # rows × k × k comparison, chunked
        ac, ec = a[start:start + 4096], e[start:start + 4096]
        valid = ec >= 0
        hit = (ac[:, :, None] == ec[:, None, :]).any(axis=1) & valid
        found += int(hit.sum())
        total += int(valid.sum())
    return found / total if total else 1.0
