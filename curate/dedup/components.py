"""Connected components of the verified candidate graph.

Two implementations with the same result (every node labelled with the
smallest node of its component):

* :func:`components_local` collects the edges and runs scipy's
  ``connected_components``; memory is O(edges) in one process.
* :func:`components_ray` runs the large-star / small-star algorithm
  (Kiveris et al., "Connected Components in MapReduce and Beyond", 2014) as a
  sequence of Ray Data group-bys. Each round hash-partitions the edges by
  node and works on one partition at a time with numpy, so a worker only
  ever holds one partition; it takes O(log^2 n) rounds, in practice a handful.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def partition_of(nodes: np.ndarray, num_partitions: int) -> np.ndarray:
    """Spread integer keys over ``num_partitions`` by multiplicative hashing."""
    x = nodes.astype(np.uint64) * _GOLDEN
    return ((x >> np.uint64(32)) % np.uint64(num_partitions)).astype(np.int64)


def components_local(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(node, root) for every node on an edge; root is its component's smallest node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    both = np.concatenate([src, dst]).astype(np.int64)
    order = np.argsort(both, kind="stable")
    sorted_both = both[order]
    first = np.r_[True, sorted_both[1:] != sorted_both[:-1]] if len(both) else np.zeros(0, bool)
    nodes = sorted_both[first]
    inv = np.empty(len(both), dtype=np.int64)
    inv[order] = np.cumsum(first) - 1
    if len(nodes) == 0:
        return nodes.astype(np.int64), nodes.astype(np.int64)
    m = len(src)
    graph = coo_matrix((np.ones(m, np.int8), (inv[:m], inv[m:])), shape=(len(nodes), len(nodes)))
    _, label = connected_components(graph, directed=False)
    # nodes are sorted, so the first node of each label is its smallest
    # nodes are sorted, so scanning them backwards leaves each label's smallest node
    root_of_label = np.empty(label.max() + 1, dtype=np.int64)
    root_of_label[label[::-1]] = nodes[::-1]
    return nodes, root_of_label[label]


def _star_step(batch: pa.Table, large: bool) -> pa.Table:
    """One large-star or small-star step on the rows of one partition.

    Rows are (u, v): ``u`` is the node the row was grouped by, ``v`` a
    neighbour. Output rows are new edges (lo, hi) plus ``chg`` = 1 on edges
    that differ from the input, so the driver can detect convergence.
    """
    u = batch.column("u").to_numpy()
    v = batch.column("v").to_numpy()
    if len(u) == 0:
        return _edges_table(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(u)]))
    m = np.minimum(np.minimum.reduceat(v, starts), u[starts])[group]
    if large:
        # link every larger neighbour to the smallest node of u's neighbourhood
        keep = v > u
        lo, hi = m[keep], v[keep]
        chg = (m[keep] != u[keep]).astype(np.int8)
    else:
        # rows here are (u, v) with v < u: link u and its smaller neighbours to their minimum
        count = np.diff(np.r_[starts, len(u)])[group]
        lo = np.concatenate([m, m[starts]])
        hi = np.concatenate([v, u[starts]])
        chg = np.concatenate([(count > 1).astype(np.int8), np.zeros(len(starts), np.int8)])
        keep = lo != hi
        lo, hi, chg = lo[keep], hi[keep], chg[keep]
    # de-duplicate, keeping chg = 1 if any copy of an edge changed
    order = np.lexsort((-chg, hi, lo))
    lo, hi, chg = lo[order], hi[order], chg[order]
    keep = np.r_[True, (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])] if len(lo) else np.zeros(0, bool)
    return _edges_table(lo[keep], hi[keep], chg[keep])


def _edges_table(lo: np.ndarray, hi: np.ndarray, chg: np.ndarray) -> pa.Table:
    return pa.table({"lo": pa.array(lo, pa.int64()), "hi": pa.array(hi, pa.int64()),
                     "chg": pa.array(chg, pa.int8())})


def _orient(batch: pa.Table, num_partitions: int, both: bool) -> pa.Table:
    lo = batch.column("lo").to_numpy()
    hi = batch.column("hi").to_numpy()
    if both:
        u, v = np.concatenate([lo, hi]), np.concatenate([hi, lo])
    else:
        u, v = hi, lo
    return pa.table({"u": u, "v": v, "_part": partition_of(u, num_partitions)})


def components_ray(edges: ray.data.Dataset, num_partitions: int, max_rounds: int = 100) -> ray.data.Dataset:
    """Connected components of an edge Dataset with int64 columns ``lo`` < ``hi``.

    Returns a Dataset of converged star edges (``lo`` = component root, ``hi``
    = member); every node on an edge appears exactly once as ``hi`` or as a
    root.
    """
    current = edges.select_columns(["lo", "hi"])
    for _ in range(max_rounds):
        changed = 0
        for large in (True, False):
            current = (
                current.map_batches(_orient, batch_format="pyarrow", fn_kwargs={"num_partitions": num_partitions, "both": large})
                .groupby("_part", num_partitions=num_partitions)
                .map_groups(_star_step, batch_format="pyarrow", fn_kwargs={"large": large})
                .materialize()
            )
            changed += int(current.sum("chg") or 0) if current.count() else 0
        if changed == 0:
            return current.select_columns(["lo", "hi"])
    raise RuntimeError(f"connected components did not converge in {max_rounds} rounds")
