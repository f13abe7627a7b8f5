"""``icp_reorder`` keeps a synthetic row out of its source's training context.

Synthetic rephrasings sit next to their source in embedding space, so the greedy path places them side by
side; in one context the model would copy the facts from the source instead of storing them, which undoes
synthetic continued pretraining (EntiGraph trains on the synthetic text alone, globally shuffled:
ZitongYang/Synthetic_Continued_Pretraining, data/tokenize_entigraph.py).
"""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.icp.provenance import keep_apart, shared_contexts
from curate.stage import ORDER, ORDER_KEY
from curate.stages.icp_reorder import SOURCE, IcpReorderParams, _stored_embeddings, order_documents


def test_a_waiting_row_goes_to_the_first_later_context_that_fits_it():
    # row 0 is a source, rows 1 and 2 its synthetic rows; ten tokens each, forty per context
    order, contexts, positions, waited = keep_apart(np.arange(7), np.array([-1, 0, 0, -1, -1, -1, -1]),
                                                    np.full(7, 10), 40)
    assert order.tolist() == [0, 3, 4, 5, 6, 1, 2]  # written out by hand from the rule
    assert contexts.tolist() == [0, 0, 0, 0, 1, 1, 1] and positions.tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert waited == 2


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_row_once_never_beside_its_source(data):
    n = data.draw(st.integers(1, 40))
    tokens = np.array(data.draw(st.lists(st.integers(1, 30), min_size=n, max_size=n)))
    source_of = np.array([data.draw(st.integers(-1, n - 1)) for _ in range(n)])
    source_of[source_of == np.arange(n)] = -1
    source_of[source_of >= 0] = np.where(source_of[source_of[source_of >= 0]] >= 0, -1, source_of[source_of >= 0])
    path = np.array(data.draw(st.permutations(list(range(n)))))
    budget = data.draw(st.integers(1, 80))
    order, contexts, positions, _ = keep_apart(path, source_of, tokens, budget)
    assert sorted(order.tolist()) == list(range(n))
    context_of = np.empty(n, dtype=np.int64)
    context_of[order] = contexts
    assert shared_contexts(source_of, context_of) == 0
    assert contexts.tolist() == sorted(contexts.tolist()) and contexts[0] == 0
    for c in set(contexts.tolist()):
        members = order[contexts == c]
        assert positions[contexts == c].tolist() == list(range(len(members)))
        assert len(members) == 1 or tokens[members].sum() <= budget


def _corpus(seed: int = 0):
    """Sources of three topics; the first twelve have two near-copies each (their synthetic rows)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, 32))
    vectors, ids, sources = [], [], []
    for i in range(45):
        vectors.append(centers[i % 3] + 0.6 * rng.normal(size=32))
        ids.append(f"s{i}")
        sources.append(None)
    for i in range(12):
        for k in range(2):
            vectors.append(vectors[i] + 0.05 * rng.normal(size=32))
            ids.append(f"s{i}#syn{k}")
            sources.append(f"s{i}")
    x = np.asarray(vectors, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), ids, sources


def _beside_source(keys: pa.Table, ids: list[str], sources: list) -> int:
    context = dict(zip(ids, keys.column("context_id").to_pylist()))
    return sum(1 for i, s in zip(ids, sources) if s is not None and context[i] == context[s])


def test_synthetic_rows_leave_their_sources_context():
    x, ids, sources = _corpus()
    n = len(ids)
    p = IcpReorderParams(k=10, context_tokens=800)
    args = (x, np.arange(n), ids, np.full(n, 100))
    plain, plain_stats = order_documents(*args, p)
    assert _beside_source(plain, ids, sources) >= 20  # the path alone puts nearly all 24 beside their source
    kept, stats = order_documents(*args, p, sources=sources)
    assert _beside_source(kept, ids, sources) == 0 and stats["synthetic_beside_source"] == 0
    assert stats["synthetic_rows"] == 24 and stats["synthetic_waited"] >= 12  # a row of each family waited
    assert sorted(kept.column(ORDER_KEY).to_pylist()) == list(range(n))  # every row once
    assert stats["adjacent_similarity"] > stats["random_similarity"]  # the order still groups related rows
    none, _ = order_documents(*args, IcpReorderParams(k=10, context_tokens=800), sources=[None] * n)
    assert none.column("context_id").to_pylist() == plain.column("context_id").to_pylist()


def test_the_provenance_column_travels_with_stored_embeddings():
    batch = pa.table({ORDER: [0, 1], "id": ["a", "a#s"], "text": ["x y", "x z"], "source_id": [None, "a"],
                      "embedding": pa.array([[1.0, 0.0], [0.9, 0.1]], pa.list_(pa.float32()))})
    out = _stored_embeddings(batch, "embedding", "estimate", "source_id")
    assert out.column(SOURCE).to_pylist() == [None, "a"]
    assert SOURCE not in _stored_embeddings(batch, "embedding", "estimate", None).column_names
