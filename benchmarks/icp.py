"""In-Context Pretraining ordering benchmark: kNN, graph, greedy path, packing,
on synthetic clustered embeddings.

    python benchmarks/icp.py                                  # 1M docs, 64-d, k=50, HNSW
    python benchmarks/icp.py --docs 100000 --index ivf
    python benchmarks/icp.py --docs 200000 --json out/icp_bench.json
    python benchmarks/icp.py --smoke                          # tiny sizes, seconds

Embeddings (seeded): ``--topics`` unit centres in ``--dim`` dimensions,
``--clusters`` cluster centres scattered around them, each document a cluster
centre plus Gaussian noise of norm ~``--spread``, L2-normalised. The
kNN search uses all cores (``--threads``); graph build is parallel compiled
code; the traversal and packing run on one core.

Measured: kNN time and recall@10 of the approximate lists against exact search
for ``--recall-sample`` query documents; graph build time and size; traversal
documents/s; order metrics; peak memory (PSS of this process, per phase).

Reference in the same run: the same greedy walk (minimum-degree starts, most
similar unvisited neighbour, ties by index) written in plain Python over the
same CSR rows as Python lists (conversion not timed), on a ``--reference-docs``
problem of the same kind (same generator and cluster size, its own kNN graph);
the compiled walk runs on that same graph, the two paths must be identical, and
the ratio is their docs/s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import SAMPLE  # noqa: E402
from benchmarks._memory import PeakMemory  # noqa: E402
from curate.icp.graph import Graph, build_graph  # noqa: E402
from curate.icp.knn import _drop_self, knn, recall_at  # noqa: E402
from curate.icp.metrics import order_metrics  # noqa: E402
from curate.icp.pack import pack_contexts  # noqa: E402
from curate.icp.traverse import greedy_path  # noqa: E402

GiB = 2**30


def clustered_embeddings(n: int, dim: int, clusters: int, spread: float, seed: int, topics: int = 50,
                         topic_spread: float = 0.7) -> np.ndarray:
    """Two-level clusters: ``topics`` unit centres, ``clusters`` centres around
    them (noise norm ``topic_spread``), documents around those (noise norm
    ``spread``), all normalised. Neighbouring clusters overlap, as real topics
    do, so an IVF partition or an HNSW graph cannot simply follow the clusters.
    Built in blocks so the noise never exists for all rows at once."""
    rng = np.random.default_rng(seed)

    def unit(a: np.ndarray) -> np.ndarray:
        return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)

    tops = unit(rng.normal(size=(max(1, topics), dim)))
    centers = unit(tops[rng.integers(0, len(tops), clusters)]
                   + rng.normal(scale=topic_spread / np.sqrt(dim), size=(clusters, dim)))
    x = np.empty((n, dim), np.float32)
    for s in range(0, n, 262_144):
        e = min(n, s + 262_144)
        block = centers[rng.integers(0, clusters, e - s)]
        block += rng.normal(scale=spread / np.sqrt(dim), size=(e - s, dim)).astype(np.float32)
        x[s:e] = unit(block)
    return x


def exact_sample(x: np.ndarray, rows: np.ndarray, k: int, threads: int) -> np.ndarray:
    """Exact top-k (self removed) for the sampled rows against all documents."""
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    sims, ids = index.search(x[rows], k + 1)
    return _drop_self(ids, sims, rows)[0]


def python_walk(rows: list[list[int]], degrees: list[int]) -> tuple[list[int], int]:
    """Reference: the paper's greedy walk in plain Python over CSR rows that
    are already sorted best first."""
    n = len(rows)
    order = sorted(range(n), key=lambda v: (degrees[v], v))
    visited = [False] * n
    path: list[int] = []
    jumps = -1
    nxt_start = 0
    while len(path) < n:
        while visited[order[nxt_start]]:
            nxt_start += 1
        cur = order[nxt_start]
        jumps += 1
        while cur >= 0:
            visited[cur] = True
            path.append(cur)
            cur = next((j for j in rows[cur] if not visited[j]), -1)
    return path, jumps


def graph_bytes(g: Graph) -> int:
    return g.indptr.nbytes + g.indices.nbytes + g.weights.nbytes + g.degrees.nbytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--clusters", type=int, default=2_000, help="cluster centres of the synthetic embeddings")
    ap.add_argument("--spread", type=float, default=0.6, help="document noise norm around its cluster centre")
    ap.add_argument("--topics", type=int, default=50, help="super-centres the cluster centres scatter around")
    ap.add_argument("--topic-spread", type=float, default=0.7, help="cluster-centre noise norm around its topic")
    ap.add_argument("--index", choices=["hnsw", "ivf"], default="hnsw")
    ap.add_argument("--exact-max", type=int, default=100_000, help="exact search up to this many documents")
    ap.add_argument("--hnsw-m", type=int, default=32)
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--ef-search", type=int, default=128)
    ap.add_argument("--nlist", type=int, default=None)
    ap.add_argument("--nprobe", type=int, default=16)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--recall-sample", type=int, default=2_000)
    ap.add_argument("--reference-docs", type=int, default=100_000)
    ap.add_argument("--context-tokens", type=int, default=8_192)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--embed-sample", type=int, default=200,
                    help="also measure embedding throughput on this many documents of data/sample (0: skip)")
    add_smoke_flag(ap)
    args = ap.parse_args()
    if args.smoke:
        args.docs, args.clusters, args.reference_docs, args.recall_sample, args.embed_sample = 5_000, 50, 2_000, 200, 16
    n = args.docs
    out: dict = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                 "load_average_at_start": [round(v, 2) for v in os.getloadavg()]}
    print(f"ICP benchmark: {n:,} docs, {args.dim}-d, k={args.k}, {args.clusters} clusters, "
          f"index={args.index if n > args.exact_max else 'exact'}, {args.threads} threads; "
          f"load average {os.getloadavg()[0]:.1f}")

    # compile the kernels on a toy input so the timings below are run time only
    toy_nb = np.array([[1], [0]])
    greedy_path(build_graph(toy_nb, np.ones((2, 1), np.float32)))
    pack_contexts(np.ones(2, np.int64), 4)

    with PeakMemory(interval=0.25) as mem:
        phases: dict[str, tuple[float, float]] = {}

        def phase(name: str, t0: float) -> float:
            t1 = time.perf_counter()
            mem.samples.append((t1, mem._sample()))  # a phase shorter than the sampling interval still gets one
            phases[name] = (t0, t1)
            return t1 - t0

        t = time.perf_counter()
        x = clustered_embeddings(n, args.dim, args.clusters, args.spread, args.seed, args.topics, args.topic_spread)
        out["embeddings_s"] = round(phase("embeddings", t), 2)

        knn_options = dict(exact_max=args.exact_max, index=args.index, hnsw_m=args.hnsw_m,
                           ef_construction=args.ef_construction, ef_search=args.ef_search, nlist=args.nlist,
                           nprobe=args.nprobe, threads=args.threads)
        t = time.perf_counter()
        neighbors, sims = knn(x, args.k, **knn_options)
        out["knn_s"] = round(phase("knn", t), 2)
        print(f"kNN:        {out['knn_s']:8.1f} s  ({n / out['knn_s']:,.0f} docs/s, {args.threads} threads)")

        rng = np.random.default_rng(args.seed + 1)
        sample = np.sort(rng.choice(n, size=min(args.recall_sample, n), replace=False))
        t = time.perf_counter()
        exact = exact_sample(x, sample, min(10, neighbors.shape[1]), args.threads)
        out["recall_at_10"] = round(recall_at(neighbors[sample], exact, 10), 4)
        out["recall_sample"] = int(sample.size)
        out["recall_s"] = round(time.perf_counter() - t, 2)
        print(f"recall@10:  {out['recall_at_10']:8.4f}    (exact search for {sample.size:,} sampled queries)")

        t = time.perf_counter()
        graph = build_graph(neighbors, sims)
        out["graph_s"] = round(phase("graph", t), 2)
        out["graph_edges"] = graph.num_edges
        out["graph_mean_degree"] = round(float(graph.degrees.mean()), 2)
        out["graph_gib"] = round(graph_bytes(graph) / GiB, 3)
        print(f"graph:      {out['graph_s']:8.2f} s  ({graph.num_edges:,} undirected edges, mean degree "
              f"{out['graph_mean_degree']}, {out['graph_gib']:.2f} GiB)")

        t = time.perf_counter()
        path, jumps = greedy_path(graph)
        walk_s = phase("traverse", t)
        out["traverse_s"] = round(walk_s, 3)
        out["traverse_docs_per_s"] = round(n / walk_s)
        out["jumps"] = jumps
        print(f"traverse:   {walk_s:8.3f} s  ({n / walk_s:,.0f} docs/s, one core; {jumps:,} jumps)")

        t = time.perf_counter()
        tokens = np.maximum(1, rng.lognormal(mean=6.0, sigma=1.0, size=n)).astype(np.int64)  # ~650 mean, long tail
        context_id, _ = pack_contexts(tokens[path], args.context_tokens)
        out["pack_s"] = round(phase("pack", t), 3)
        out["contexts"] = int(context_id[-1] + 1) if n else 0
        out["context_fill"] = round(float(tokens.sum() / (out["contexts"] * args.context_tokens)), 4) if n else None
        print(f"pack:       {out['pack_s']:8.3f} s  ({out['contexts']:,} contexts of {args.context_tokens} tokens, "
              f"fill {out['context_fill']})")

        t = time.perf_counter()
        out["metrics"] = order_metrics(x, path, neighbors, seed=args.seed)
        out["metrics_s"] = round(phase("metrics", t), 2)
        print(f"metrics:    {out['metrics_s']:8.2f} s  {json.dumps(out['metrics'])}")

        # the reference's own problem: same generator and cluster size, first --reference-docs documents
        m = min(args.reference_docs, n)
        t = time.perf_counter()
        xm = clustered_embeddings(m, args.dim, max(1, round(args.clusters * m / n)), args.spread, args.seed + 2,
                                  args.topics, args.topic_spread)
        nb_m, sims_m = knn(xm, args.k, **knn_options)
        sub = build_graph(nb_m, sims_m)
        del xm, nb_m, sims_m
        out["reference_setup_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        sub_path, sub_jumps = greedy_path(sub)
        fast_s = time.perf_counter() - t
        rows = [sub.indices[sub.indptr[i]:sub.indptr[i + 1]].tolist() for i in range(m)]
        degrees = sub.degrees.tolist()
        t = time.perf_counter()
        ref_path, ref_jumps = python_walk(rows, degrees)
        ref_s = time.perf_counter() - t
        del rows
        if ref_path != sub_path.tolist() or ref_jumps != sub_jumps:
            raise SystemExit("reference walk and compiled walk disagree")
        out["reference"] = {
            "name": "plain-Python greedy walk, same algorithm, same CSR rows as Python lists",
            "docs": m,
            "python_docs_per_s": round(m / ref_s),
            "compiled_docs_per_s": round(m / fast_s),
            "ratio": round(ref_s / fast_s, 1),
        }
        print(f"reference:  plain-Python walk (same algorithm, same CSR rows as lists) on a {m:,}-doc graph of the same "
              f"kind (mean degree {sub.degrees.mean():.1f}): {m / ref_s:,.0f} docs/s; compiled {m / fast_s:,.0f} "
              f"docs/s on the same graph: {ref_s / fast_s:.1f}x (identical paths)")
        walk_compare = (f"greedy walk, {m:,}-document kNN graph", "the same walk in plain Python over the same rows",
                        m / ref_s, m / fast_s, "docs/s")

    out["peak_pss_gib"] = round(mem.peak / GiB, 2)
    out["peak_pss_gib_by_phase"] = {k: round(mem.peak_between(*v) / GiB, 2) for k, v in phases.items()}
    out["max_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GiB, 2)
    out["bytes_neighbors_sims_gib"] = round((neighbors.nbytes + sims.nbytes) / GiB, 2)
    print(f"memory:     peak PSS {out['peak_pss_gib']:.2f} GiB (max RSS {out['max_rss_gib']:.2f} GiB); by phase "
          + ", ".join(f"{k} {v:.2f}" for k, v in out["peak_pss_gib_by_phase"].items()))
    if args.embed_sample:
        out["embedding"] = embedding_throughput(args.embed_sample)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    compare(*walk_compare)
    for max_tokens in (128, 256):
        if f"minilm_{max_tokens}" in out.get("embedding", {}):
            result = out["embedding"][f"minilm_{max_tokens}"]
            compare(f"MiniLM embedding, first {max_tokens} tokens, 1 thread",
                    "SentenceTransformer.encode (float32, batch 64)", result["bare_encode_docs_per_s"],
                    result["docs_per_s"], "docs/s")


def sample_texts(count: int) -> list[str]:
    """The first ``count`` documents of the bundled sample, taken evenly from its files."""
    from curate.io.reader import ReaderConfig, read_file, resolve_inputs

    files = resolve_inputs([str(SAMPLE)])
    per_file = max(1, count // len(files))
    texts: list[str] = []
    for index, file in enumerate(files):
        taken = 0
        for batch in read_file(index, file, ReaderConfig()):
            for text in batch.column("text").to_pylist():
                if text and taken < per_file:
                    texts.append(text)
                    taken += 1
    return texts[:count]


def embedding_throughput(count: int) -> dict:
    """Documents/s on one thread for curate's embedders, against a bare SentenceTransformer.encode loop."""
    import torch
    from sentence_transformers import SentenceTransformer

    from curate.icp.embed import HashingEmbedder, MiniLMEmbedder, default_model_path

    texts = sample_texts(count)
    torch.set_num_threads(1)
    results = {"documents": len(texts), "mean_chars": round(sum(map(len, texts)) / len(texts))}
    for max_tokens in (128, 256):
        bare = SentenceTransformer(str(default_model_path()), device="cpu")
        bare.max_seq_length = max_tokens
        t = time.perf_counter()
        bare.encode(texts, batch_size=64, normalize_embeddings=True)
        bare_s = time.perf_counter() - t
        ours = MiniLMEmbedder(max_tokens=max_tokens, threads=1)
        t = time.perf_counter()
        ours.embed(texts)
        ours_s = time.perf_counter() - t
        results[f"minilm_{max_tokens}"] = {"docs_per_s": round(len(texts) / ours_s, 1),
                                           "bare_encode_docs_per_s": round(len(texts) / bare_s, 1),
                                           "ratio_ours_over_bare_time": round(ours_s / bare_s, 2)}
        print(f"embedding:  MiniLM, first {max_tokens} tokens, 1 thread: {len(texts) / ours_s:,.1f} docs/s; bare "
              f"SentenceTransformer.encode (float32) {len(texts) / bare_s:,.1f} docs/s: time ratio "
              f"{ours_s / bare_s:.2f} ({len(texts)} sample documents, {results['mean_chars']:,} characters on average)")
    hashing = HashingEmbedder(dim=1024)
    t = time.perf_counter()
    hashing.embed(texts)
    hashing_s = time.perf_counter() - t
    results["hashing_1024"] = {"docs_per_s": round(len(texts) / hashing_s, 1)}
    print(f"embedding:  hashing 1024-d: {len(texts) / hashing_s:,.0f} docs/s")
    return results


if __name__ == "__main__":
    main()
