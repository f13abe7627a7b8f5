"""The minhash_dedup stage on small Ray Datasets.

The stage returns marks only (``GlobalResult.marks``); :func:`apply_marks`
merges them into the input rows the way the runner does, so these tests need
Ray Data only.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF, ORDER, GlobalResult
from curate.stages.minhash_dedup import MinHashDedup
from tests.minhash_corpus import edit, random_docs

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_local():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    if started:
        ray.shutdown()


def _table(texts: list[str], ids: list[str], **extra) -> pa.Table:
    n = len(texts)
    columns = {"id": ids, "text": texts, "source": ["t"] * n, "meta": ["{}"] * n,
               ORDER: pa.array(np.arange(n) * 3 + 7, pa.int64())}
    columns.update(extra)
    return pa.table(columns)


@pytest.fixture(scope="module")
def planted() -> tuple[pa.Table, dict[str, str]]:
    """200 unrelated documents, 30 of them with a near copy (Jaccard about 0.93),
    one with three copies, plus empty and one-word documents."""
    docs = random_docs(200, 150, seed=11)
    ids = [f"doc{i:03d}" for i in range(200)]
    truth: dict[str, str] = {}
    for i in range(30):
        docs.append(edit(docs[i], 1, seed=i))
        ids.append(f"zcopy{i:03d}")
        truth[ids[-1]] = ids[i]
    for k in range(3):
        docs.append(edit(docs[100], 1, seed=100 + k))
        ids.append(f"zmulti{k}")
        truth[ids[-1]] = ids[100]
    docs += [""] * 10 + ["alpha", "beta", "gamma", "delta"] + ["   "] * 5
    ids += [f"empty{i}" for i in range(10)] + ["one_a", "one_b", "one_c", "one_d"] + [f"blank{i}" for i in range(5)]
    return _table(docs, ids), truth


def _collect(dataset) -> pa.Table:
    refs = dataset.to_arrow_refs()
    if refs:
        return pa.concat_tables(ray.get(refs), promote_options="permissive")
    return dataset.schema().base_schema.empty_table()


def apply_marks(dataset, result: GlobalResult) -> pa.Table:
    """Input rows (sorted by ``_order``) with ``result.marks`` merged in: a
    left join on ``_order``; rows without a mark get ``result.defaults`` (or
    null) in the columns the marks add and keep their values in the others.
    Checks the marks contract on the way."""
    docs = (dataset if isinstance(dataset, pa.Table) else _collect(dataset)).sort_by(ORDER)
    marks = _collect(result.marks).sort_by(ORDER)
    assert ORDER in marks.column_names and "text" not in marks.column_names
    known, order = marks.column(ORDER).to_numpy(), docs.column(ORDER).to_numpy()
    assert np.all(np.diff(known) > 0), "at most one mark per _order"
    assert np.isin(known, order).all(), "marks name only input rows"
    pos = np.minimum(np.searchsorted(known, order), max(len(known) - 1, 0))
    hit = pa.array(known[pos] == order if len(known) else np.zeros(len(order), bool))
    for name in marks.column_names:
        if name == ORDER:
            continue
        kind = marks.schema.field(name).type
        values = marks.column(name).take(pa.array(pos)) if len(known) else pa.nulls(len(order), kind)
        if name in docs.column_names:
            other = docs.column(name).cast(kind)
        elif name in result.defaults:
            other = pa.array([result.defaults[name]] * len(order), kind)
        else:
            other = pa.nulls(len(order), kind)
        merged = pc.if_else(hit, values, other)
        if name in docs.column_names:
            docs = docs.set_column(docs.schema.get_field_index(name), name, merged)
        else:
            docs = docs.append_column(name, merged)
    return docs


def _run(table: pa.Table, **params):
    dataset = ray.data.from_arrow(table)
    result = MinHashDedup(**params).run(dataset)
    return apply_marks(table, result), result.stats


def _dropped(out: pa.Table) -> dict[str, str]:
    rows = out.filter(pc.is_valid(out.column(DROP_REASON)))
    assert set(rows.column(DROP_REASON).to_pylist()) <= {"near_duplicate"}
    return dict(zip(rows.column("id").to_pylist(), rows.column(DUPLICATE_OF).to_pylist()))


def test_drop_mode_finds_planted_duplicates(ray_local, planted) -> None:
    table, truth = planted
    result = MinHashDedup().run(ray.data.from_arrow(table))
    marks = _collect(result.marks)
    # one mark per removed document, and nothing but the drop columns
    assert marks.column_names == [ORDER, DROP_REASON, DROP_DETAIL, DUPLICATE_OF]
    assert marks.num_rows == len(truth) and result.defaults == {}
    out, stats = apply_marks(table, result), result.stats
    assert out.num_rows == table.num_rows
    assert out.column("id").to_pylist() == table.column("id").to_pylist()  # every row, untouched
    assert out.column("text").to_pylist() == table.column("text").to_pylist()
    assert _dropped(out) == truth  # smallest id of each cluster is kept
    details = dict(zip(out.column("id").to_pylist(), out.column(DROP_DETAIL).to_pylist()))
    assert details["zcopy000"] == "cluster of 2, kept doc000"
    assert details["zmulti1"] == "cluster of 4, kept doc100"
    assert details["doc000"] is None
    assert stats["documents_removed"] == len(truth)
    assert stats["clusters"] == 31
    assert stats["documents_in_clusters"] == len(truth) + 31
    assert stats["documents_without_shingles"] == 15
    assert stats["verified_pairs"] <= stats["candidate_pairs"]
    assert stats["false_positives_removed"] == stats["candidate_pairs"] - stats["verified_pairs"]


def test_annotate_mode_and_keep_longest(ray_local, planted) -> None:
    table, truth = planted
    result = MinHashDedup(mode="annotate", keep="longest", scheme="datasketch").run(ray.data.from_arrow(table))
    marks = _collect(result.marks)
    # one mark per cluster member (kept and duplicates); the rest default to not a duplicate
    assert marks.column_names == [ORDER, "dup_cluster", "is_duplicate"]
    assert marks.num_rows == len(truth) + 31 and result.defaults == {"is_duplicate": False}
    out, stats = apply_marks(table, result), result.stats
    assert DROP_REASON not in out.column_names
    assert out.column("is_duplicate").null_count == 0
    assert stats["documents_removed"] == 0 and stats["documents_marked_duplicate"] == len(truth)
    rows = out.to_pylist()
    by_id = {r["id"]: r for r in rows}
    clusters: dict[str, list[str]] = {}
    for r in rows:
        if r["dup_cluster"] is not None:
            clusters.setdefault(r["dup_cluster"], []).append(r["id"])
    assert len(clusters) == 31
    for keeper, members in clusters.items():
        assert keeper in members and not by_id[keeper]["is_duplicate"]
        longest = max(len(by_id[m]["text"]) for m in members)
        assert len(by_id[keeper]["text"]) == longest
        assert sum(by_id[m]["is_duplicate"] for m in members) == len(members) - 1
    assert sum(r["is_duplicate"] for r in rows) == len(truth)
    # annotated ids match the planted pairs
    for copy, original in truth.items():
        assert by_id[copy]["dup_cluster"] == by_id[original]["dup_cluster"]


def test_distributed_paths_give_the_same_result(ray_local, planted) -> None:
    table, truth = planted
    scores = pa.array(np.linspace(0, 1, table.num_rows))
    out, stats = _run(table.append_column("quality", scores), keep="highest_score", score_column="quality",
                      local_components_max_edges=0, broadcast_max_rows=0, num_partitions=3, local_max_bytes=0)
    assert stats["components"] == "distributed"
    by_order = {copy: original for copy, original in truth.items()}
    dropped = _dropped(out)
    # highest score wins: the later (planted) row of each pair has the higher score
    kept_multi = "zmulti2"
    expected = {orig: copy for copy, orig in by_order.items() if not copy.startswith("zmulti")}
    expected.update({"doc100": kept_multi, "zmulti0": kept_multi, "zmulti1": kept_multi})
    assert dropped == expected
    assert out.num_rows == table.num_rows


@pytest.mark.parametrize("params", [{}, {"mode": "annotate", "keep": "longest"}, {"verify": "estimate"}])
def test_one_process_path_equals_the_distributed_one(ray_local, planted, params) -> None:
    table, _ = planted
    local = MinHashDedup(**params).run(ray.data.from_arrow(table))
    spread = MinHashDedup(**params, local_max_bytes=0, num_partitions=3).run(ray.data.from_arrow(table))
    assert local.stats["partitions"] == 1 and spread.stats["partitions"] == 3
    assert _collect(local.marks).sort_by(ORDER).equals(_collect(spread.marks).sort_by(ORDER))
    assert local.defaults == spread.defaults
    for key in ("candidate_pairs", "verified_pairs", "clusters", "documents_in_clusters", "documents_removed"):
        assert local.stats[key] == spread.stats[key], key


def test_no_verified_pairs_give_empty_marks(ray_local) -> None:
    table = _table(random_docs(40, 80, seed=5), [f"u{i:02d}" for i in range(40)])
    for mode, columns in (("drop", [ORDER, DROP_REASON, DROP_DETAIL, DUPLICATE_OF]),
                          ("annotate", [ORDER, "dup_cluster", "is_duplicate"])):
        result = MinHashDedup(mode=mode).run(ray.data.from_arrow(table))
        assert result.stats["verified_pairs"] == 0 and result.stats["documents_removed"] == 0
        assert result.stats["clusters"] == 0 and result.stats["components"] == "none"
        assert result.marks.count() == 0
        assert result.marks.schema().base_schema.names == columns
        out = apply_marks(table, result)
        assert out.num_rows == table.num_rows
        if mode == "annotate":
            assert out.column("is_duplicate").to_pylist() == [False] * 40
            assert out.column("dup_cluster").null_count == 40
        else:
            assert out.column(DROP_REASON).null_count == 40


def test_empty_and_one_word_documents_are_not_merged(ray_local) -> None:
    texts = [""] * 20 + ["   \n"] * 5 + [f"{w}" for w in ("apple", "pear", "plum", "fig", "kiwi", "lime")] + ["Apple!"]
    ids = [f"d{i:02d}" for i in range(len(texts))]
    out, stats = _run(_table(texts, ids), verify="none", num_perm=64, bands=64, rows=1)
    # only the two spellings of "apple" are the same document after normalisation
    assert _dropped(out) == {"d31": "d25"}
    assert stats["documents_without_shingles"] == 25


def test_verify_removes_false_candidates(ray_local) -> None:
    """Documents sharing half their text (Jaccard ~0.3) collide in one-row
    bands; exact verification keeps only the real near-duplicate, while no
    verification merges the half-siblings too."""
    halves = random_docs(20, 60, seed=3)
    docs = [halves[i] + " " + halves[i + 10] for i in range(10)]  # d00..d09
    docs += [halves[i] + " " + halves[(i + 1) % 10 + 10] for i in range(10)]  # d10..d19: half-siblings
    docs.append(edit(docs[0], 1, seed=1))  # d20: a real near-duplicate of d00
    table = _table(docs, [f"d{i:02d}" for i in range(len(docs))])
    out, stats = _run(table, bands=32, rows=1, num_perm=32)
    assert stats["false_positives_removed"] >= 10
    assert _dropped(out) == {"d20": "d00"}
    out_none, stats_none = _run(table, bands=32, rows=1, num_perm=32, verify="none")
    assert stats_none["false_positives_removed"] == 0
    assert len(_dropped(out_none)) > 10


def test_distributed_components_equal_local_on_long_chains(ray_local) -> None:
    from ray.data.context import ShuffleStrategy

    from curate.dedup.components import components_local, components_ray

    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, 3000, 2000), rng.integers(0, 3000, 2000)
    chain = rng.permutation(np.arange(5000, 5150))  # a path visiting nodes in random order
    src, dst = np.r_[src, chain[:-1]], np.r_[dst, chain[1:]]
    keep = src != dst
    lo, hi = np.minimum(src[keep], dst[keep]), np.maximum(src[keep], dst[keep])
    edges = ray.data.from_arrow(pa.table({"lo": lo, "hi": hi}))
    edges.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    stars = pa.concat_tables(ray.get(components_ray(edges, num_partitions=3).to_arrow_refs()))
    roots = dict(zip(stars.column("hi").to_pylist(), stars.column("lo").to_pylist()))
    assert len(roots) == stars.num_rows  # every member appears once
    roots.update({r: r for r in set(roots.values())})
    nodes, expected = components_local(lo, hi)
    assert roots == dict(zip(nodes.tolist(), expected.tolist()))
