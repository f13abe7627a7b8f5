"""The paper's greedy path through the document graph (an approximate maximum
travelling-salesman path, Shi et al. 2023, Algorithm 1).

Start at an unvisited document of minimum degree; repeatedly move to the most
similar unvisited neighbour; when every neighbour of the current document has
been visited, jump to the next unvisited document of minimum degree. Starting
from low-degree documents first uses up the documents that few others link to
before their neighbours are taken, so fewer of them end up stranded as jumps.
Ties go to the smallest index, so the path is a pure function of the graph.

Cost is O(n + edges): nodes are counting-sorted by (degree, index) once and a
single pointer moves along that order for the jumps (a visited node never
becomes unvisited, so the pointer never moves back); each node is the current
node exactly once and its row is sorted best first, so the first unvisited
entry of its row is the move and each row is scanned at most once over the
whole walk.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from curate.icp.graph import Graph


@njit(cache=True)
def _by_degree(degrees):
    """Node ids ordered by (degree, index): a stable counting sort."""
    n = degrees.size
    top = 0
    for i in range(n):
        top = max(top, degrees[i])
    start = np.zeros(top + 2, np.int64)
    for i in range(n):
        start[degrees[i] + 1] += 1
    for d in range(1, top + 2):
        start[d] += start[d - 1]
    order = np.empty(n, np.int64)
    for i in range(n):
        order[start[degrees[i]]] = i
        start[degrees[i]] += 1
    return order


@njit(cache=True)
def _walk(indptr, indices, degrees):
    n = degrees.size
    order = _by_degree(degrees)
    visited = np.zeros(n, np.bool_)
    path = np.empty(n, np.int64)
    jumps = 0
    next_start = 0
    t = 0
    while t < n:
        while visited[order[next_start]]:
            next_start += 1
        cur = order[next_start]
        if t > 0:
            jumps += 1
        visited[cur] = True
        path[t] = cur
        t += 1
        while True:
            nxt = -1
            for p in range(indptr[cur], indptr[cur + 1]):
                j = indices[p]
                if not visited[j]:
                    nxt = j
                    break
            if nxt < 0:
                break
            visited[nxt] = True
            path[t] = nxt
            t += 1
            cur = nxt
    return path, jumps


def greedy_path(graph: Graph) -> tuple[np.ndarray, int]:
    """Visit every document of ``graph`` exactly once (isolated ones included).
    Returns ``(path int64[n], jumps)``, ``jumps`` counting the moves that do not
    follow an edge (the first start is not one)."""
    if graph.n == 0:
        return np.empty(0, np.int64), 0
    path, jumps = _walk(graph.indptr, graph.indices, graph.degrees)
    return path, int(jumps)
