"""Detection quality of minhash_dedup on real text.

1. Planted near-duplicates: real documents from ../shared/corpora get a copy
   edited (word substitutions, insertions, deletions, reordering of chunks,
   added boilerplate, or a mix) until its exact Jaccard with the original
   reaches a target drawn from [0.5, 1.0]. Precision, recall and F1 of
   "original and copy end up in one cluster" against exact Jaccard >= the
   threshold, plus the share of removed documents whose exact Jaccard with
   their kept document reaches the threshold (unrelated distractors included).
2. Natural families in spdx_license_texts and debian_copyright_files:
   ground-truth families are connected components of the exact-Jaccard >=
   threshold graph over all pairs; reports families that lose all their
   members, removals without any true near-duplicate, and recall.

Ground truth uses plain-Python shingle sets over the regex normaliser, not
the stage's compiled kernels.

Reference for the planted set: datasketch used the usual way (``MinHash.bulk``
over the same shingles, ``MinHashLSH`` at the same threshold and number of
permutations, every candidate pair joined, no verification); the last lines
compare its F1 with each configuration's.

    python benchmarks/minhash_eval.py [--corpora ../shared/corpora] [--planted 1000]
    python benchmarks/minhash_eval.py --smoke      # 40 planted pairs, no families, seconds
"""

from __future__ import annotations

import os

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import DEFAULT_CORPORA, read_corpus, require_corpora  # noqa: E402
from curate.dedup.shingle import ShingleConfig, normalize_regex, python_shingles  # noqa: E402

PLANT_SOURCES = ["bbc_news", "brown_corpus", "python311_doc_rst", "postgresql_doc_html", "django_doc_html",
                 "git_doc_asciidoc", "spamassassin_emails", "moby_dick_chapters"]
EDITS = ["substitute", "insert", "delete", "reorder", "boilerplate", "mixed"]
CFG = ShingleConfig()


def shingle_set(text: str) -> set[bytes]:
    norm = normalize_regex(pa.array([text]), CFG).to_pylist()[0]
    return set(python_shingles(norm, CFG))


def jaccard(a: set, b: set) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _edited(words: list[str], kind: str, k: int, rng_seed: int, filler: list[str], boiler: list[str]) -> list[str]:
    """Apply ``k`` edits of one kind; edits for k are a superset of those for k-1."""
    rng = np.random.default_rng(rng_seed)
    n = len(words)
    order = rng.permutation(n)
    out = list(words)
    if kind == "mixed":
        kinds = ["substitute", "insert", "delete", "reorder"]
        for j, sub in enumerate(kinds):
            out = _edited(out, sub, k // 4 + (j < k % 4), rng_seed + j + 1, filler, boiler)
        return out
    if kind == "substitute":
        for i in order[:k]:
            out[i] = filler[(i * 7919 + rng_seed) % len(filler)]
    elif kind == "delete":
        drop = set(order[:k].tolist())
        out = [w for i, w in enumerate(out) if i not in drop]
    elif kind == "insert":
        inserts = sorted(order[:k].tolist(), reverse=True)
        for j, i in enumerate(inserts):
            out.insert(i, filler[(i * 104729 + j + rng_seed) % len(filler)])
    elif kind == "reorder":
        chunk = 12
        chunks = [out[i:i + chunk] for i in range(0, n, chunk)]
        swaps = rng.permutation(len(chunks))
        for j in range(min(k, len(chunks) // 2)):
            a, b = swaps[2 * j], swaps[2 * j + 1]
            chunks[a], chunks[b] = chunks[b], chunks[a]
        out = [w for c in chunks for w in c]
    elif kind == "boilerplate":
        head = boiler[: k // 2]
        tail = boiler[k // 2: k]
        out = head + out + tail
    return out


def plant(originals: list[str], seed: int, filler: list[str], boiler: list[str]) -> list[tuple[str, float, str]]:
    """(copy text, exact Jaccard with its original, edit kind) for every original."""
    rng = np.random.default_rng(seed)
    result = []
    for idx, text in enumerate(originals):
        words = text.split()
        target = float(rng.uniform(0.5, 1.0))
        kind = EDITS[idx % len(EDITS)]
        base = shingle_set(text)
        lo, hi = 0, len(words) if kind != "reorder" else len(words) // 24
        best = (text, 1.0)
        while lo <= hi:  # smallest k whose Jaccard falls to the target or below
            k = (lo + hi) // 2
            cand = " ".join(_edited(words, kind, k, seed + idx, filler, boiler))
            j = jaccard(base, shingle_set(cand))
            if j <= target:
                best = (cand, j)
                hi = k - 1
            else:
                lo = k + 1
                if best[1] == 1.0 or j < best[1]:
                    best = (cand, j) if k > 0 else best
        result.append((best[0], best[1], kind))
    return result


def run_stage(texts: list[str], ids: list[str], **params) -> tuple[pa.Table, dict]:
    import ray

    from curate.engine.marks import apply_result
    from curate.stages.minhash_dedup import MinHashDedup

    n = len(texts)
    table = pa.table({"id": ids, "text": texts, "source": ["eval"] * n, "meta": ["{}"] * n,
                      "_order": pa.array(np.arange(n), pa.int64())})
    t = time.perf_counter()
    result = MinHashDedup(**params).run(ray.data.from_arrow(table))
    out = apply_result(table, result, "minhash_dedup")
    result.stats["wall_s"] = round(time.perf_counter() - t, 1)
    return out, result.stats


def datasketch_clusters(texts: list[str], threshold: float, num_perm: int = 128) -> list[int]:
    """Cluster label per document: datasketch MinHash.bulk + MinHashLSH candidates, joined by union-find."""
    import xxhash
    from datasketch import MinHash

    signatures = MinHash.bulk([sorted(shingle_set(t)) for t in texts], num_perm=num_perm, seed=1,
                              hashfunc=xxhash.xxh32_intdigest)
    return lsh_clusters(signatures, threshold, num_perm)


def lsh_clusters(signatures: list, threshold: float, num_perm: int) -> list[int]:
    """Cluster label per signature (its union-find root): datasketch MinHashLSH candidates, every pair joined."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    with lsh.insertion_session() as session:
        for i, m in enumerate(signatures):
            session.insert(i, m)
    parent = list(range(len(signatures)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, m in enumerate(signatures):
        for j in lsh.query(m):
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(signatures))]


def scores(same: np.ndarray, pos: np.ndarray) -> tuple[float, float, float, int, int, int]:
    tp, fp, fn = int((same & pos).sum()), int((same & ~pos).sum()), int((~same & pos).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp, fp, fn


def planted_eval(args, configs: list[dict]) -> None:
    rng = np.random.default_rng(args.seed)
    docs = []
    for name in PLANT_SOURCES:
        for rec in read_corpus(args.corpora, name):
            words = (rec.get("text") or "").split()
            if len(words) >= 80:
                docs.append(" ".join(words[:3000]))
    order = rng.permutation(len(docs))
    originals = [docs[i] for i in order[: args.planted]]
    distractors = [docs[i] for i in order[args.planted: args.planted + args.distractors]]
    filler = [w for d in distractors[:200] for w in d.split()]
    boiler = [w for rec in read_corpus(args.corpora, "boilerplate_pairs", limit=50)
              for w in (rec.get("text") or "").split()][:20000]
    t = time.perf_counter()
    copies = plant(originals, args.seed, filler, boiler)
    print(f"\n## Planted near-duplicates: {len(originals)} originals from {len(PLANT_SOURCES)} corpora, "
          f"{len(distractors)} distractors, generated in {time.perf_counter() - t:.0f} s")
    truth_j = np.array([j for _, j, _ in copies])
    kinds = np.array([k for _, _, k in copies])
    print(f"copies with exact Jaccard >= {args.threshold}: {(truth_j >= args.threshold).sum()} of {len(copies)}")
    texts = originals + [c for c, _, _ in copies] + distractors
    ids = ([f"orig{i:05d}" for i in range(len(originals))] + [f"plant{i:05d}" for i in range(len(copies))]
           + [f"other{i:05d}" for i in range(len(distractors))])
    sets_cache: dict[int, set] = {}

    def sset(i: int) -> set:
        if i not in sets_cache:
            sets_cache[i] = shingle_set(texts[i])
        return sets_cache[i]

    index = {x: i for i, x in enumerate(ids)}
    n = len(originals)
    pos = truth_j >= args.threshold
    t = time.perf_counter()
    labels = datasketch_clusters(texts, args.threshold)
    ref_same = np.array([labels[i] == labels[n + i] for i in range(n)])
    ref_precision, ref_recall, ref_f1, tp, fp, fn = scores(ref_same, pos)
    print(f"- reference datasketch MinHash.bulk + MinHashLSH (no verification): precision {ref_precision:.4f}, "
          f"recall {ref_recall:.4f}, F1 {ref_f1:.4f} (tp {tp}, fp {fp}, fn {fn}); {time.perf_counter() - t:.1f} s")
    f1s = {}
    for cfg in configs:
        out, stats = run_stage(texts, ids, mode="annotate", threshold=args.threshold, **cfg)
        cluster = out.column("dup_cluster").to_pylist()
        same = np.array([cluster[i] is not None and cluster[i] == cluster[n + i] for i in range(n)])
        precision, recall, f1, tp, fp, fn = scores(same, pos)
        f1s[str(cfg)] = f1
        dup = out.column("is_duplicate").to_pylist()
        removed = [i for i, d in enumerate(dup) if d]
        good = sum(jaccard(sset(i), sset(index[cluster[i]])) >= args.threshold for i in removed)
        by_kind = ", ".join(
            f"{k} {int((same & pos & (kinds == k)).sum())}/{int((pos & (kinds == k)).sum())}" for k in EDITS)
        print(f"- {cfg}: precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f} "
              f"(tp {tp}, fp {fp}, fn {fn}); removed {len(removed)}, of which {good} have exact Jaccard >= "
              f"{args.threshold} with their kept document ({good / max(len(removed), 1):.4f}); "
              f"candidate pairs {stats['candidate_pairs']}, false positives removed by verify "
              f"{stats['false_positives_removed']}; {stats['wall_s']} s")
        print(f"  recall by edit kind (found/positives): {by_kind}")
        near = (truth_j >= args.threshold - 0.05) & (truth_j < args.threshold)
        print(f"  just below the threshold ({args.threshold - 0.05:.2f}-{args.threshold}): "
              f"{int((same & near).sum())} of {int(near.sum())} clustered")
    for cfg, f1 in f1s.items():
        compare(f"planted near-duplicates found (F1), minhash_dedup {cfg}",
                "datasketch MinHash.bulk + MinHashLSH, same threshold and num_perm", ref_f1, f1, "F1")


def family_eval(args, name: str, configs: list[dict]) -> None:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    recs = list(read_corpus(args.corpora, name))
    texts = [r.get("text") or "" for r in recs]
    ids = [f"{i:05d}" for i in range(len(texts))]
    vocab: dict[bytes, int] = {}
    rows, cols = [], []
    for i, t in enumerate(texts):
        for s in shingle_set(t):
            rows.append(i)
            cols.append(vocab.setdefault(s, len(vocab)))
    x = csr_matrix((np.ones(len(rows), np.int32), (rows, cols)), shape=(len(texts), len(vocab)))
    inter = (x @ x.T).tocoo()
    size = np.asarray(x.sum(axis=1)).ravel()
    keep = inter.row < inter.col
    r, c, v = inter.row[keep], inter.col[keep], inter.data[keep]
    jac = v / (size[r] + size[c] - v)
    edge = jac >= args.threshold
    graph = csr_matrix((np.ones(edge.sum()), (r[edge], c[edge])), shape=(len(texts), len(texts)))
    _, label = connected_components(graph, directed=False)
    counts = np.bincount(label)
    fam = counts[label] >= 2
    families = int((counts >= 2).sum())
    ideal = int((counts[counts >= 2] - 1).sum())
    print(f"\n## {name}: {len(texts)} documents, {families} families (exact Jaccard >= {args.threshold}, "
          f"{int(fam.sum())} members; ideal removals {ideal})")
    for cfg in configs:
        out, stats = run_stage(texts, ids, threshold=args.threshold, **cfg)
        removed = np.array([x is not None for x in out.column("_drop_reason").to_pylist()])
        keeper = out.column("_duplicate_of").to_pylist()
        lost = sum(1 for f in np.unique(label[fam]) if removed[label == f].all())
        no_family = int((removed & ~fam).sum())
        cross = int(sum(1 for i in np.flatnonzero(removed) if label[int(keeper[i])] != label[i]))
        print(f"- {cfg}: removed {int(removed.sum())} (recall vs ideal {int((removed & fam).sum()) / max(ideal, 1):.3f}); "
              f"families losing all members {lost}; removed without a true near-duplicate {no_family}; "
              f"kept document in another family {cross}; candidate pairs {stats['candidate_pairs']}, "
              f"false positives removed by verify {stats['false_positives_removed']}; {stats['wall_s']} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    ap.add_argument("--planted", type=int, default=1000)
    ap.add_argument("--distractors", type=int, default=3000)
    ap.add_argument("--threshold", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-planted", action="store_true")
    ap.add_argument("--skip-families", action="store_true")
    add_smoke_flag(ap)
    args = ap.parse_args()
    require_corpora(args.corpora, [*PLANT_SOURCES, "boilerplate_pairs"], args.smoke)
    if args.smoke:
        args.planted, args.distractors, args.skip_families = 40, 60, True
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    ray.data.DataContext.get_current().enable_progress_bars = False
    ray.data.DataContext.get_current().print_on_execution_start = False
    import logging

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    configs = [{"scheme": "fast"}, {"scheme": "datasketch"}, {"scheme": "fast", "verify": "none"},
               {"scheme": "fast", "verify": "none", "weights": (0.5, 0.5)}]
    if args.smoke:
        configs = configs[:1]
    if not args.skip_planted:
        planted_eval(args, configs)
    if not args.skip_families:
        for name in ("spdx_license_texts", "debian_copyright_files"):
            family_eval(args, name, configs)
    ray.shutdown()


if __name__ == "__main__":
    main()
