"""In-Context Pretraining core: kNN, graph, greedy path, packing, metrics.
Fast and Ray-free; the kNN tests need faiss."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.icp.graph import build_graph
from curate.icp.knn import _drop_self, recall_at
from curate.icp.metrics import order_metrics
from curate.icp.pack import estimate_tokens, pack_contexts
from curate.icp.traverse import greedy_path


def _normalised(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _clustered(n: int, d: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = _normalised(rng.normal(size=(clusters, d)))
    x = centers[rng.integers(0, clusters, n)] + rng.normal(scale=spread / np.sqrt(d), size=(n, d))
    return _normalised(x)


def _random_lists(n: int, k: int, seed: int, p_missing: float, p_isolated: float):
    """knn-like lists with -1 padding, self and repeated entries, isolated nodes
    and few distinct weights (so ties are common)."""
    rng = np.random.default_rng(seed)
    nb = rng.integers(0, n, size=(n, k))
    nb[rng.random((n, k)) < p_missing] = -1
    isolated = rng.random(n) < p_isolated
    nb[isolated] = -1
    nb[np.isin(nb, np.flatnonzero(isolated))] = -1
    sims = rng.choice(np.array([0.1, 0.25, 0.5, 0.75, 0.9], np.float32), size=(n, k))
    return nb, sims


def _reference_walk(nb: np.ndarray, sims: np.ndarray) -> tuple[list[int], int]:
    """The paper's Algorithm 1 written directly from its description, over a
    dict graph (max weight of both directions), ties to the smallest index."""
    n = nb.shape[0]
    adj: dict[int, dict[int, float]] = {i: {} for i in range(n)}
    for i in range(n):
        for j, w in zip(nb[i], sims[i]):
            j = int(j)
            if 0 <= j < n and j != i:
                for a, b in ((i, j), (j, i)):
                    adj[a][b] = max(adj[a].get(b, -np.inf), float(w))
    unvisited = set(range(n))
    path: list[int] = []
    starts = 0
    while unvisited:
        cur = min(unvisited, key=lambda v: (len(adj[v]), v))
        starts += 1
        while True:
            path.append(cur)
            unvisited.discard(cur)
            options = [(-w, j) for j, w in adj[cur].items() if j in unvisited]
            if not options:
                break
            cur = min(options)[1]
    return path, starts - 1


# --- traversal -------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 200),
    k=st.integers(0, 8),
    seed=st.integers(0, 2**32 - 1),
    p_missing=st.sampled_from([0.0, 0.2, 0.7]),
    p_isolated=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_traversal_visits_every_document_once_and_matches_the_paper(n, k, seed, p_missing, p_isolated):
    nb, sims = _random_lists(n, k, seed, p_missing, p_isolated)
    graph = build_graph(nb, sims)
    path, jumps = greedy_path(graph)
    assert path.dtype == np.int64 and path.shape == (n,)
    assert np.array_equal(np.sort(path), np.arange(n))
    expected_path, expected_jumps = _reference_walk(nb, sims)
    assert path.tolist() == expected_path
    assert jumps == expected_jumps
    # a jump is exactly a consecutive pair that is not an edge
    edges = {(int(a), int(b)) for a in range(n) for b in graph.neighbors(a)}
    assert jumps == sum((int(a), int(b)) not in edges for a, b in zip(path[:-1], path[1:]))


def _hand_graph():
    # undirected edges: 5-2 .95, 2-0 .9, 2-3 .8, 0-1 .7, 0-4 .6, 1-3 .5, 3-4 .4; 6 isolated.
    # Each edge is listed in one direction only, so the walk must use in-edges.
    nb = np.array([[1, 4], [3, -1], [0, 3], [4, -1], [-1, -1], [2, -1], [-1, -1]])
    sims = np.array([[0.7, 0.6], [0.5, -np.inf], [0.9, 0.8], [0.4, -np.inf], [-np.inf] * 2, [0.95, -np.inf], [-np.inf] * 2],
                    np.float32)
    return nb, sims


def test_traversal_follows_most_similar_unvisited_neighbour_from_minimum_degree():
    nb, sims = _hand_graph()
    graph = build_graph(nb, sims)
    assert graph.degrees.tolist() == [3, 2, 3, 3, 2, 1, 0]
    path, jumps = greedy_path(graph)
    # 6 (degree 0) first, jump to 5 (degree 1), then 2 (.95), 0 (.9 beats 3's .8), 1 (.7), 3 (.5), 4 (.4)
    assert path.tolist() == [6, 5, 2, 0, 1, 3, 4]
    assert jumps == 1


def test_traversal_breaks_ties_by_smallest_index():
    nb = np.array([[1, 2], [-1, -1], [-1, -1], [-1, -1]])
    sims = np.array([[0.5, 0.5], [-np.inf] * 2, [-np.inf] * 2, [-np.inf] * 2], np.float32)
    path, jumps = greedy_path(build_graph(nb, sims))
    # degrees 2,1,1,0: start at 3, jump to 1 (degree 1, smaller index than 2), 0, then 2
    assert path.tolist() == [3, 1, 0, 2]
    assert jumps == 1


def test_traversal_of_tiny_graphs():
    empty = build_graph(np.empty((0, 3), np.int64), np.empty((0, 3), np.float32))
    assert greedy_path(empty)[0].tolist() == [] and greedy_path(empty)[1] == 0
    one = build_graph(np.full((1, 0), -1), np.empty((1, 0), np.float32))
    assert greedy_path(one)[0].tolist() == [0]
    isolated = build_graph(np.full((4, 2), -1), np.zeros((4, 2), np.float32))
    path, jumps = greedy_path(isolated)
    assert path.tolist() == [0, 1, 2, 3] and jumps == 3


# --- graph -----------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), k=st.integers(0, 6), seed=st.integers(0, 2**32 - 1))
def test_graph_is_symmetric_deduplicated_and_sorted(n, k, seed):
    nb, sims = _random_lists(n, k, seed, 0.2, 0.1)
    rng = np.random.default_rng(seed)
    sims = sims + rng.integers(0, 3, sims.shape).astype(np.float32) * 0.01  # the two directions may disagree
    g = build_graph(nb, sims)
    assert g.indices.dtype == np.int32 and g.weights.dtype == np.float32 and g.indptr.dtype == np.int64
    assert np.array_equal(np.diff(g.indptr), g.degrees)
    expected: dict[tuple[int, int], float] = {}
    for i in range(n):
        for j, w in zip(nb[i], sims[i]):
            if 0 <= j < n and j != i:
                for key in ((i, int(j)), (int(j), i)):
                    expected[key] = max(expected.get(key, -np.inf), float(w))
    got = {}
    for i in range(n):
        row = g.neighbors(i)
        w = g.weights[g.indptr[i]:g.indptr[i + 1]]
        assert len(set(row.tolist())) == len(row)  # no duplicate neighbours, no self
        assert i not in row.tolist()
        assert [(-a, b) for a, b in zip(w.tolist(), row.tolist())] == sorted((-a, b) for a, b in zip(w.tolist(), row.tolist()))
        got.update({(i, int(j)): float(x) for j, x in zip(row, w)})
    assert got.keys() == expected.keys()
    assert all(np.float32(got[e]) == np.float32(expected[e]) for e in got)
    assert g.num_edges * 2 == len(got)


def test_graph_includes_in_edges_and_keeps_the_larger_weight():
    nb = np.array([[1], [0], [0]])
    sims = np.array([[0.3], [0.8], [0.5]], np.float32)
    g = build_graph(nb, sims)
    assert g.neighbors(0).tolist() == [1, 2]  # 1 (max .3/.8 = .8) before 2 (.5)
    assert g.weights[g.indptr[0]:g.indptr[1]].tolist() == pytest.approx([0.8, 0.5])
    assert g.neighbors(2).tolist() == [0]  # 2 listed 0: the edge is in both rows
    assert g.degrees.tolist() == [2, 1, 1]


# --- kNN -------------------------------------------------------------------


def test_knn_exact_matches_brute_force():
    pytest.importorskip("faiss")
    from curate.icp.knn import knn

    x = _normalised(np.random.default_rng(1).normal(size=(600, 24)))
    nb, sims = knn(x, 10, threads=1)
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :10]
    assert nb.dtype == np.int64 and sims.dtype == np.float32 and nb.shape == (600, 10)
    assert np.array_equal(nb, expected)
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected, axis=1), atol=1e-5)


def test_knn_shrinks_k_and_handles_tiny_inputs():
    pytest.importorskip("faiss")
    from curate.icp.knn import knn

    x = _normalised(np.random.default_rng(2).normal(size=(4, 8)))
    nb, sims = knn(x, 50)
    assert nb.shape == (4, 3)
    assert all(sorted(nb[i].tolist()) == [j for j in range(4) if j != i] for i in range(4))
    assert np.all(np.diff(sims, axis=1) <= 1e-6)
    nb, sims = knn(x[:1], 5)
    assert nb.shape == (1, 0) and sims.shape == (1, 0)
    # duplicated documents: self must be removed even when an equal vector ranks first
    dup = np.repeat(x[:1], 3, axis=0)
    nb, _ = knn(dup, 2)
    assert [sorted(r) for r in nb.tolist()] == [[1, 2], [0, 2], [0, 1]]


@pytest.mark.parametrize("index", ["hnsw", "ivf"])
def test_knn_approximate_recall_on_clustered_data(index):
    pytest.importorskip("faiss")
    from curate.icp.knn import knn

    x = _clustered(20_000, 32, 200, 0.6, seed=3)
    exact, _ = knn(x, 10)
    approx, sims = knn(x, 10, exact_max=0, index=index, threads=1)  # one thread: fast and steady on a busy machine
    assert not np.any(approx == np.arange(len(x))[:, None])
    assert recall_at(approx, exact, 10) >= 0.9


def test_drop_self_when_the_index_returns_it_or_not():
    ids = np.array([[5, 0, 7], [3, 4, 2], [-1, -1, -1]])
    sims = np.array([[0.9, 0.8, 0.7], [0.9, 0.8, 0.7], [-np.inf] * 3], np.float32)
    out, s = _drop_self(ids, sims, np.array([0, 1, 2]))
    assert out.tolist() == [[5, 7], [3, 4], [-1, -1]]  # row 1 lacked itself: its last result goes
    assert s[0].tolist() == pytest.approx([0.9, 0.7]) and np.all(np.isneginf(s[2]))


def test_recall_at():
    exact = np.array([[1, 2, 3], [0, 2, -1]])
    approx = np.array([[1, 3, 9], [2, 5, 6]])
    assert recall_at(approx, exact, 3) == pytest.approx(3 / 5)
    assert recall_at(approx, exact, 1) == pytest.approx(1 / 2)


# --- packing ---------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(tokens=st.lists(st.integers(0, 40), max_size=200), budget=st.integers(1, 32))
def test_packing_keeps_order_and_budget(tokens, budget):
    t = np.array(tokens, np.int64)
    cid, pos = pack_contexts(t, budget)
    assert cid.shape == pos.shape == t.shape
    if not tokens:
        return
    assert cid[0] == 0 and pos[0] == 0
    assert np.all(np.diff(cid) >= 0) and np.all(np.diff(cid) <= 1)  # path order, contexts numbered densely
    for c in np.unique(cid):
        members = np.flatnonzero(cid == c)
        assert pos[members].tolist() == list(range(len(members)))
        size = int(t[members].sum())
        assert size <= budget or len(members) == 1  # only a lone over-long document exceeds the budget
    # greedy: a document starts a new context only if it would not fit the previous one
    for i in range(1, len(t)):
        if cid[i] != cid[i - 1]:
            assert t[cid == cid[i - 1]].sum() + t[i] > budget


def test_packing_example():
    cid, pos = pack_contexts(np.array([3, 3, 5, 10, 1, 1, 1, 20, 2]), 8)
    assert cid.tolist() == [0, 0, 1, 2, 3, 3, 3, 4, 5]
    assert pos.tolist() == [0, 1, 0, 0, 0, 1, 2, 0, 0]
    with pytest.raises(ValueError):
        pack_contexts(np.array([1]), 0)


def test_estimate_tokens():
    texts = ["", "abcd", "abcde", None, "é" * 8]
    expected = [1, 1, 2, 1, 2]
    assert estimate_tokens(texts).tolist() == expected
    assert estimate_tokens(pa.array(texts)).tolist() == expected
    assert estimate_tokens(pa.chunked_array([texts[:2], texts[2:]])).tolist() == expected


# --- metrics ---------------------------------------------------------------


def test_metrics_chain_beats_shuffled_order():
    # points along an arc: each document's nearest neighbours are the next ones on it
    n = 400
    angle = np.linspace(0, np.pi, n)
    x = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    nb = np.argsort(-full, axis=1, kind="stable")[:, :4]
    chain = order_metrics(x, np.arange(n), nb, seed=0)
    shuffled = order_metrics(x, np.random.default_rng(9).permutation(n), nb, seed=0)
    assert chain["repeats"] == chain["missing"] == 0
    assert chain["edge_share"] == 1.0 and chain["jumps_per_1k"] == 0.0
    assert chain["closeness"] == pytest.approx(1.0, abs=1e-3)
    assert shuffled["closeness"] < 0.2 and shuffled["edge_share"] < 0.1
    assert shuffled["jumps_per_1k"] > 900
    assert chain["adjacent_similarity"] > shuffled["adjacent_similarity"]
    import json

    json.dumps(chain)
    broken = order_metrics(x, np.array([0, 0, 1]), nb)
    assert broken["repeats"] == 1 and broken["missing"] == n - 2
    single = order_metrics(x[:1], np.array([0]), np.empty((1, 0), np.int64))
    assert single["repeats"] == single["missing"] == 0 and single["closeness"] is None
    json.dumps(single)


def test_metrics_of_greedy_path_on_clusters():
    pytest.importorskip("faiss")
    from curate.icp.knn import knn

    x = _clustered(3_000, 16, 30, 0.5, seed=4)
    nb, sims = knn(x, 10)
    path, jumps = greedy_path(build_graph(nb, sims))
    m = order_metrics(x, path, nb, seed=0)
    assert m["repeats"] == 0 and m["missing"] == 0
    assert m["jumps_per_1k"] == pytest.approx(1000 * jumps / len(x), abs=1e-3)
    assert m["closeness"] > 0.7 and m["edge_share"] > 0.8
