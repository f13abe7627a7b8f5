"""How good an order is. Neither the paper nor its code defines a measure, so:

``adjacent_similarity``
    mean cosine similarity of consecutive documents along the path;
``random_similarity``
    the same for a seeded random permutation (what plain shuffling gives);
``ceiling_similarity``
    the mean similarity of each document to its top-1 neighbour: no order can
    make a document's successor more similar than its nearest neighbour on
    average, so this is the practical upper bound;
``closeness``
    ``(adjacent - random) / (ceiling - random)``: 0 is no better than shuffling,
    1 is every step to a nearest neighbour;
``edge_share``
    share of consecutive pairs that are kNN edges (either direction);
``jumps_per_1k``
    consecutive pairs that are not kNN edges, per thousand documents; for
    ``greedy_path`` this equals its jump count (a jump never lands on a
    neighbour: all of them were visited);
``repeats`` / ``missing``
    documents seen more than once / never: both must be 0.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 65_536


def _consecutive(order: np.ndarray):
    """Consecutive pairs of ``order`` as ``(a, b)`` arrays, in chunks so the gathered rows stay small."""
    pairs = order.size - 1
    for s in range(0, max(pairs, 0), _CHUNK):
        e = min(pairs, s + _CHUNK)
        yield order[s:e], order[s + 1:e + 1]


def _adjacent_mean(x: np.ndarray, order: np.ndarray) -> float:
    """Mean dot product of consecutive rows of ``x[order]``."""
    pairs = order.size - 1
    if pairs < 1:
        return float("nan")
    total = sum(float(np.einsum("ij,ij->", x[a], x[b], dtype=np.float64)) for a, b in _consecutive(order))
    return total / pairs


def _edge_pairs(neighbors: np.ndarray, order: np.ndarray) -> int:
    """Consecutive pairs ``(a, b)`` with ``b`` in ``a``'s list or ``a`` in ``b``'s."""
    hits = 0
    for a, b in _consecutive(order):
        hit = (neighbors[a] == b[:, None]).any(axis=1) | (neighbors[b] == a[:, None]).any(axis=1)
        hits += int(hit.sum())
    return hits


def _round(value: float, digits: int) -> float | None:
    """JSON has no NaN: undefined values are ``None``."""
    return None if not np.isfinite(value) else round(float(value), digits)


def order_metrics(embeddings: np.ndarray, path: np.ndarray, neighbors: np.ndarray, seed: int = 0) -> dict:
    """Quality of ``path`` (document ids in order) over ``embeddings``
    (L2-normalised ``n × d``) with ``neighbors`` (``knn``'s ``n × k`` lists,
    ``-1`` padded). Plain Python numbers only, so the dict is JSON-ready."""
    x = np.asarray(embeddings, dtype=np.float32)
    nb = np.asarray(neighbors)
    order = np.asarray(path, dtype=np.int64)
    n = x.shape[0]
    if nb.ndim != 2 or nb.shape[0] != n:
        raise ValueError(f"neighbors must be n × k with n = {n} documents, got shape {nb.shape}")
    if order.size and (order.min() < 0 or order.max() >= n):
        raise ValueError("path holds ids outside 0..n-1")
    counts = np.bincount(order, minlength=n)
    repeats = int(np.maximum(counts - 1, 0).sum())
    missing = int((counts == 0).sum())

    adjacent = _adjacent_mean(x, order)
    random = _adjacent_mean(x, np.random.default_rng(seed).permutation(n))
    rows = np.flatnonzero(nb[:, 0] >= 0) if nb.shape[1] > 0 else np.empty(0, np.int64)
    if rows.size:
        ceiling = sum(
            float(np.einsum("ij,ij->", x[r], x[nb[r, 0]], dtype=np.float64))
            for r in np.array_split(rows, max(1, rows.size // _CHUNK))
        ) / rows.size
    else:
        ceiling = float("nan")
    span = ceiling - random
    closeness = (adjacent - random) / span if np.isfinite(span) and span > 1e-12 else float("nan")
    pairs = max(order.size - 1, 0)
    edges = _edge_pairs(nb, order) if nb.shape[1] > 0 else 0
    return {
        "documents": int(n),
        "adjacent_similarity": _round(adjacent, 4),
        "random_similarity": _round(random, 4),
        "ceiling_similarity": _round(ceiling, 4),
        "closeness": _round(closeness, 4),
        "edge_share": _round(edges / pairs if pairs else float("nan"), 4),
        "jumps_per_1k": _round(1000 * (pairs - edges) / n if n else float("nan"), 3),
        "repeats": repeats,
        "missing": missing,
    }
