"""In-context-pretraining order on the bundled sample with each embedder available offline.

The paper embeds with contriever-msmarco (first ~510 tokens, mean of every
token but [CLS]); that model cannot be fetched here, so the embedders compared
are those curate ships or can build: hashed word n-grams, all-MiniLM-L6-v2 at
128 and 256 tokens with its own pooling, and all-MiniLM-L6-v2 at 512 tokens
pooled as the paper pools (``pooling: mean_without_cls``), over the first
``--per-source`` documents of each corpus of the sample. Vectors are cached
under ``out/icp_embedders/``.

Each order is judged by measures that do not depend on its own vector space:

* ``same_topic_adjacent``: share of consecutive documents with the same topic
  label (the source corpus, refined by the labels the sample carries: BBC
  section, Brown category, UDHR language, SpamAssassin ham/spam);
* ``context_purity``: share of document pairs within a context of
  ``--context-tokens`` that share a topic label;
* ``judge_adjacent``: mean cosine of consecutive documents in one fixed space
  (MiniLM at 256 tokens), with a random order as the baseline;

and by its own space's ``closeness`` (0: no better than shuffling, 1: every
step to a nearest neighbour) and the semantic duplicates it would remove at
cosine 0.95 and 0.98 (``dedup_threshold``)::

    python benchmarks/icp_embedders.py --threads 1
    python benchmarks/icp_embedders.py --smoke     # 4 documents per source, two embedders
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._compare import add_smoke_flag, compare
from benchmarks._corpora import sample_table
from curate.icp.embed import make_embedder
from curate.icp.pack import estimate_tokens
from curate.stages.icp_reorder import IcpReorderParams, order_documents, semantic_duplicates

CACHE = Path(__file__).resolve().parents[1] / "out" / "icp_embedders"
EMBEDDERS = {
    "hashing-1024": ("hashing", {"dim": 1024}),
    "minilm-128": ("minilm", {"max_tokens": 128}),
    "minilm-256": ("minilm", {"max_tokens": 256}),
    "minilm-512-mean_without_cls": ("minilm", {"max_tokens": 512, "pooling": "mean_without_cls"}),
}
JUDGE = "minilm-256"


def topic(source: str, meta: str | None) -> str:
    fields = json.loads(meta) if meta else {}
    return "/".join([source] + [str(fields[k]) for k in ("label", "category", "lang") if k in fields])


def vectors(name: str, texts: list[str], threads: int) -> np.ndarray:
    path = CACHE / f"{name}-{len(texts)}.npy"
    if path.exists():
        return np.load(path)
    kind, options = EMBEDDERS[name]
    if kind == "minilm":
        options = {**options, "threads": threads, "precision": "float32"}
    x = make_embedder(kind, **options).embed(texts)
    np.save(path, x)
    return x


def adjacent(x: np.ndarray, order: np.ndarray) -> float:
    return float(np.mean(np.sum(x[order[:-1]] * x[order[1:]], axis=1)))


def judge(order: np.ndarray, contexts: np.ndarray, topics: np.ndarray, judge_x: np.ndarray) -> dict:
    same = float(np.mean(topics[order[:-1]] == topics[order[1:]]))
    pairs = agree = 0
    for c in np.unique(contexts):
        members = topics[order[contexts == c]]
        _, counts = np.unique(members, return_counts=True)
        pairs += len(members) * (len(members) - 1) // 2
        agree += int(np.sum(counts * (counts - 1) // 2))
    return {"same_topic_adjacent": round(same, 4), "context_purity": round(agree / pairs, 4) if pairs else None,
            "judge_adjacent": round(adjacent(judge_x, order), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--context-tokens", type=int, default=8192)
    parser.add_argument("--per-source", type=int, default=120, help="documents per source corpus (the first)")
    add_smoke_flag(parser)
    args = parser.parse_args()
    embedders = list(EMBEDDERS)
    if args.smoke:
        args.per_source, args.k, embedders = 4, 5, ["hashing-1024", JUDGE]
    CACHE.mkdir(parents=True, exist_ok=True)
    table = sample_table()
    seen: dict[str, int] = {}
    rows = []
    for i, source in enumerate(table.column("source").to_pylist()):
        seen[source] = seen.get(source, 0) + 1
        if seen[source] <= args.per_source:
            rows.append(i)
    table = table.take(rows)
    texts = [t or "" for t in table.column("text").to_pylist()]
    ids = table.column("id").to_pylist()
    topics = np.array([topic(s, m) for s, m in zip(table.column("source").to_pylist(),
                                                     table.column("meta").to_pylist())])
    tokens = estimate_tokens(texts)
    n = len(texts)
    judge_x = vectors(JUDGE, texts, args.threads)
    shuffled = np.random.default_rng(0).permutation(n)
    from curate.icp.pack import pack_contexts

    random_contexts, _ = pack_contexts(tokens[shuffled], args.context_tokens)
    random = judge(shuffled, random_contexts, topics, judge_x)
    print(json.dumps({"order": "random", "documents": n, "topics": len(set(topics)), **random}))
    params = IcpReorderParams(k=args.k, context_tokens=args.context_tokens)
    for name in embedders:
        x = vectors(name, texts, args.threads)
        keys, stats = order_documents(x, np.arange(n), ids, tokens, params)
        order = np.argsort(keys.column("key").to_numpy())
        contexts = keys.column("context_id").to_numpy()[order]
        from curate.icp.knn import knn

        neighbors, similarities = knn(x, args.k, exact_max=n)
        dedup = {f"semantic_duplicates_{t}": int((semantic_duplicates(neighbors, similarities, t) >= 0).sum())
                 for t in (0.95, 0.98)}
        judged = judge(order, contexts, topics, judge_x)
        print(json.dumps({"order": name, **judged,
                          "closeness": round(stats["closeness"], 4), "edge_share": round(stats["edge_share"], 4),
                          **dedup}))
        compare(f"icp order with {name}, consecutive documents on the same topic ({n} documents)",
                "random order", random["same_topic_adjacent"], judged["same_topic_adjacent"], "share")


if __name__ == "__main__":
    main()
