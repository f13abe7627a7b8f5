"""What a small LM's 0-5 labels are worth: against a proxy truth, across prompts, and as training labels.

Two steps around ``curate annotate`` (see docs/annotate.md for the whole recipe):

    python benchmarks/annotate_eval.py build                       # out/annotate_eval/docs.jsonl
    curate annotate out/annotate_eval/docs.jsonl -n 0 -o out/annotate_eval/logprobs.parquet ...
    python benchmarks/annotate_eval.py report out/annotate_eval/logprobs.parquet [more label files ...]

``report`` prints, per label file: failures, the score distribution per
source, the ROC AUC of the score against the proxy truth (edited vs noisy
source; see :mod:`benchmarks._annotate_evalset`) overall and per source (a
source against every document of the other side), and the agreement between
label files (Spearman's rho of the scores, exact and within-one agreement of
the most likely digits, quadratic-weighted kappa).

Then, for the first label file, the FineWeb-Edu step: a linear head on
all-MiniLM-L6-v2 embeddings is trained with ``curate train-classifier --kind
head`` on the LM's labels of the ``fit`` sources only, cut at the median LM
score of those sources (fixed before anything held out is read), and scored
on the ``held_out`` sources against the proxy truth. In the same run:
the LM's own scores on the held-out sources, a length baseline (log
characters), the same head trained on the proxy truth of the fit sources
(what the embeddings allow with perfect labels), and the shipped fastText
``quality`` model (trained on most of these sources, so not a held-out
number: shown for scale only).

``python benchmarks/annotate_eval.py --smoke`` runs the loop at a tiny size
(one document per source, SmolLM2 labels on four, the report without the head).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._annotate_evalset import FOLDS, build, source_fold, write  # noqa: E402
from curate.classify.metrics import roc_auc  # noqa: E402

OUT = REPO / "out" / "annotate_eval"
DOCS = OUT / "docs.jsonl"


def _read_docs(path: Path) -> dict[str, dict]:
    return {d["id"]: d for d in map(json.loads, path.read_text().splitlines())}


def _labels(path: Path, docs: dict[str, dict]) -> dict[str, dict]:
    rows = pq.read_table(path).to_pylist() if path.suffix == ".parquet" else \
        [json.loads(line) for line in path.read_text().splitlines()]
    out = {}
    for row in rows:
        if row["id"] not in docs:
            raise SystemExit(f"{path}: id {row['id']} is not in the evaluation set; annotate {DOCS} with -n 0")
        out[row["id"]] = row
    return out


def _auc(truth: list[int], scores: list[float]) -> float | None:
    value = roc_auc(np.array(truth, dtype=bool), np.array(scores, dtype=np.float64))
    return None if value is None else round(value, 3)


def per_source_auc(ids: list[str], docs: dict[str, dict], scores: dict[str, float]) -> dict[str, float | None]:
    """Each source against every document of the other side (among ``ids``)."""
    out = {}
    for source in sorted({docs[i]["source"] for i in ids}):
        side = docs[next(i for i in ids if docs[i]["source"] == source)]["edited"]
        chosen = [i for i in ids if docs[i]["source"] == source or docs[i]["edited"] != side]
        out[source] = _auc([docs[i]["edited"] for i in chosen], [scores[i] for i in chosen])
    return out


def summary(name: str, ids: list[str], docs: dict[str, dict], scores: dict[str, float]) -> dict:
    """Overall AUC, per-source AUC and the worst source, on the ids that have a score."""
    scored = [i for i in ids if scores.get(i) is not None and math.isfinite(scores[i])]
    sources = per_source_auc(scored, docs, scores)
    finite = {s: v for s, v in sources.items() if v is not None}
    worst = min(finite, key=finite.__getitem__) if finite else None
    return {"method": name, "documents": len(scored), "auc": _auc([docs[i]["edited"] for i in scored],
                                                                     [scores[i] for i in scored]),
            "worst_source": worst, "worst_auc": finite.get(worst) if worst else None, "sources": sources}


def quadratic_kappa(a: list[int], b: list[int], k: int = 6) -> float:
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        observed[x, y] += 1
    expected = np.outer(observed.sum(1), observed.sum(0)) / max(observed.sum(), 1)
    weights = np.array([[(i - j) ** 2 for j in range(k)] for i in range(k)]) / (k - 1) ** 2
    denominator = (weights * expected).sum()
    return round(float(1 - (weights * observed).sum() / denominator), 3) if denominator else float("nan")


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return round(float(spearmanr(a, b).statistic), 3)


def agreement(first: dict[str, dict], second: dict[str, dict]) -> dict:
    both = [i for i in first if first[i]["score"] is not None and second.get(i, {}).get("score") is not None]
    a = [first[i]["answer"] for i in both]
    b = [second[i]["answer"] for i in both]
    return {"documents": len(both), "spearman": _spearman([first[i]["score"] for i in both],
                                                          [second[i]["score"] for i in both]),
            "exact": round(float(np.mean(np.array(a) == np.array(b))), 3),
            "within_one": round(float(np.mean(np.abs(np.array(a) - np.array(b)) <= 1)), 3),
            "quadratic_kappa": quadratic_kappa(a, b)}


def distribution(ids: list[str], docs: dict[str, dict], labels: dict[str, dict]) -> dict:
    out = {}
    for source in sorted({docs[i]["source"] for i in ids}):
        scores = np.array([labels[i]["score"] for i in ids if docs[i]["source"] == source
                           and labels[i]["score"] is not None])
        answers = [labels[i]["answer"] for i in ids if docs[i]["source"] == source and labels[i]["answer"] is not None]
        out[source] = {"edited": docs[next(i for i in ids if docs[i]["source"] == source)]["edited"],
                       "mean": round(float(scores.mean()), 3) if scores.size else None,
                       "std": round(float(scores.std()), 3) if scores.size else None,
                       "answers": [answers.count(d) for d in range(6)]}
    return out


def _embeddings(texts: list[str], key: str, threads: int) -> np.ndarray:
    """MiniLM embeddings (first 128 tokens), cached under out/annotate_eval/."""
    import hashlib

    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = OUT / f"embeddings_{key}_{digest}.npy"
    if path.is_file():
        return np.load(path)
    from curate.icp.embed import MiniLMEmbedder

    vectors = MiniLMEmbedder(max_tokens=128, threads=threads).embed(texts)
    np.save(path, vectors)
    return vectors


def _train_cli(rows: list[dict], label_field: str, cut: float, name: str, threads: int) -> dict:
    """``curate train-classifier --kind head`` on ``rows``; returns the head's path and its metrics file."""
    from curate.classify.command import train_classifier_command

    data = OUT / f"{name}_fit.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data)
    head = OUT / f"{name}.npz"
    args = ["--kind", "head", "--data", str(data), "--label-field", label_field, "--positive-from", f"{cut:.6g}",
            "--threads", str(threads), "-o", str(head)]
    print("  $ curate train-classifier " + " ".join(args), flush=True)
    train_classifier_command.main(args, standalone_mode=False)
    return {"head": str(head), "metrics": json.loads((OUT / f"{name}.metrics.json").read_text())}


def head_report(docs: dict[str, dict], labels: dict[str, dict], threads: int) -> dict:
    from curate.classify.fasttext_model import load_model, predict_scores
    from curate.classify.linear_head import load_head
    from curate.models import shipped

    fit = [i for i in docs if docs[i]["fold"] == "fit" and labels.get(i, {}).get("score") is not None]
    held = [i for i in docs if docs[i]["fold"] == "held_out"]
    cut = float(np.median([labels[i]["score"] for i in fit]))  # fixed on the fit sources alone
    lm_rows = [{"text": docs[i]["text"], "score": labels[i]["score"]} for i in fit]
    truth_rows = [{"text": docs[i]["text"], "edited": docs[i]["edited"]} for i in fit]
    on_lm = _train_cli(lm_rows, "score", cut, "head_lm_labels", threads)
    on_truth = _train_cli(truth_rows, "edited", 1, "head_proxy_truth", threads)
    texts = [docs[i]["text"] for i in held]
    vectors = _embeddings(texts, "held_out", threads)
    quality = load_model(shipped("quality.ftz"))
    columns = {
        "head on LM labels": load_head(on_lm["head"]).score(vectors),
        "LM scores themselves": np.array([labels.get(i, {}).get("score") or np.nan for i in held]),
        "length (log chars)": np.log1p([len(t) for t in texts]),
        "head on proxy truth (peer)": load_head(on_truth["head"]).score(vectors),
        "fastText quality (shipped; saw these sources)":
            predict_scores(quality, texts)[:, quality.labels.index("__label__hq")],
    }
    results = [summary(name, held, docs, dict(zip(held, map(float, scores)))) for name, scores in columns.items()]
    return {"cut_positive_from": round(cut, 4), "fit_positives": sum(labels[i]["score"] >= cut for i in fit),
            "fit_documents": len(fit), "head_validation_on_lm_labels": on_lm["metrics"]["validation"],
            "held_out_sources": FOLDS["held_out"], "results": results}


def _table(results: list[dict]) -> None:
    sources = sorted({s for r in results for s in r["sources"]})
    print("  " + f"{'method':48s} {'docs':>5s} {'AUC':>6s}  " + "  ".join(f"{s[:14]:>14s}" for s in sources)
          + "  worst")
    for r in results:
        cells = "  ".join(f"{'' if r['sources'].get(s) is None else r['sources'][s]:>14}" for s in sources)
        print(f"  {r['method']:48s} {r['documents']:5d} {r['auc']!s:>6s}  {cells}  {r['worst_source']} "
              f"{r['worst_auc']}")


def report(paths: list[Path], docs_path: Path, threads: int, head: bool) -> dict:
    docs = _read_docs(docs_path)
    for doc in docs.values():
        assert (doc["fold"], doc["edited"]) == source_fold(doc["source"])
    label_sets = {path.stem: _labels(path, docs) for path in paths}
    ids = sorted(docs)
    out: dict = {"documents": len(docs), "label_files": {}}
    print(f"{len(docs)} documents, {len({d['source'] for d in docs.values()})} sources")
    for name, labels in label_sets.items():
        missing = [i for i in ids if i not in labels]
        failed = [i for i in ids if i in labels and labels[i]["score"] is None]
        first = next(iter(labels.values()))
        scores = {i: labels[i]["score"] for i in ids if i in labels and labels[i]["score"] is not None}
        answers = {i: float(labels[i]["answer"]) for i in scores}
        entry = {"method": first["method"], "model": first["model"], "prompt_hash": first["prompt_hash"],
                 "missing": len(missing), "failed": len(failed),
                 "all": summary(name, ids, docs, scores),
                 "answer": summary(f"{name}: answer digit", ids, docs, answers),
                 "spearman_with_length": _spearman([scores[i] for i in scores],
                                                   [len(docs[i]["text"]) for i in scores]),
                 "distribution": distribution([i for i in ids if i in labels], docs, labels)}
        out["label_files"][name] = entry
        print(f"\n{name}: method {entry['method']}, prompt {entry['prompt_hash']}, {len(failed)} failed, "
              f"{len(missing)} missing; Spearman with length {entry['spearman_with_length']}")
        _table([entry["all"], entry["answer"]])
        for source, d in entry["distribution"].items():
            print(f"    {source:22s} edited={d['edited']} mean {d['mean']} std {d['std']} answers 0..5 {d['answers']}")
    names = list(label_sets)
    common = [i for i in ids if all(labels.get(i, {}).get("score") is not None for labels in label_sets.values())]
    if len(names) > 1:
        print(f"\non the {len(common)} documents every label file scored:")
        out["common"] = [summary(name, common, docs, {i: labels[i]["score"] for i in common})
                         for name, labels in label_sets.items()]
        out["common"].append(summary("length (log chars)", common, docs,
                                     {i: math.log1p(len(docs[i]["text"])) for i in common}))
        _table(out["common"])
    out["agreement"] = {}
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            key = f"{names[a]} vs {names[b]}"
            out["agreement"][key] = agreement(label_sets[names[a]], label_sets[names[b]])
            print(f"\nagreement {key}: {out['agreement'][key]}")
    length = summary("length (log chars)", ids, docs, {i: math.log1p(len(docs[i]["text"])) for i in ids})
    print("\nbaseline on all documents:")
    _table([length])
    out["length_baseline"] = length
    if head:
        print(f"\nhead trained on {names[0]}'s labels of the fit sources, scored on the held-out sources:")
        out["head"] = head_report(docs, label_sets[names[0]], threads)
        print(f"  cut: LM score >= {out['head']['cut_positive_from']} ({out['head']['fit_positives']} of "
              f"{out['head']['fit_documents']} fit documents positive); head vs LM labels on its own split: "
              f"{out['head']['head_validation_on_lm_labels']}")
        _table(out["head"]["results"])
    return out


def smoke() -> None:
    """The whole loop at a tiny size: one document per source, SmolLM2 labels on four of them, the report."""
    import subprocess
    import tempfile

    from benchmarks._annotate_evalset import SHARED_LABELS
    from benchmarks._corpora import DEFAULT_CORPORA, require_corpora

    sources = [s for sides in FOLDS.values() for names in sides.values() for s in names
               if s not in ("tweets", "fortunes_en")]
    require_corpora(DEFAULT_CORPORA, [*sources, "fortunes_all"], smoke=True)
    if not (SHARED_LABELS / "toxicity_davidson.csv").is_file():
        print(f"SKIP annotate_eval: needs {SHARED_LABELS / 'toxicity_davidson.csv'}")
        return
    with tempfile.TemporaryDirectory() as folder:
        docs, labels = Path(folder) / "docs.jsonl", Path(folder) / "labels.parquet"
        write(docs, build(1))
        subprocess.run([sys.executable, "-m", "curate.cli", "annotate", str(docs), "-n", "4", "--max-chars", "300",
                        "-o", str(labels)], check=True, cwd=REPO)
        report([labels], docs, threads=1, head=False)


def main() -> None:
    if "--smoke" in sys.argv[1:]:
        smoke()
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the evaluation documents")
    b.add_argument("--per-source", type=int, default=30)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", type=Path, default=DOCS)
    r = sub.add_parser("report", help="compare label files of curate annotate against the proxy truth")
    r.add_argument("labels", nargs="+", type=Path)
    r.add_argument("--docs", type=Path, default=DOCS)
    r.add_argument("--threads", type=int, default=1, help="torch threads for the embeddings")
    r.add_argument("--no-head", action="store_true", help="skip training and scoring the head")
    r.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    if args.command == "build":
        documents = build(args.per_source, args.seed)
        write(args.out, documents)
        print(f"{len(documents)} documents -> {args.out}")
        return
    OUT.mkdir(parents=True, exist_ok=True)
    numbers = report(args.labels, args.docs, args.threads, not args.no_head)
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
