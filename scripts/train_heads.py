"""Train the default embedding heads shipped in curate/models/ (quality_minilm.npz, hate_minilm.npz) and check them.

Both are logistic regressions on all-MiniLM-L6-v2 document vectors (first 128
tokens, L2-normalised, float32: what the ``embed`` stage writes). Every figure
comes from sources or data sets left out of the fit, beside a fastText model
fitted on the same texts and folds and the shipped fastText model; all of them
go to ``<model>.metrics.json``. Embeddings are cached in out/heads/ (a rerun
embeds nothing and rewrites the same files byte for byte). Deterministic.

    python scripts/train_heads.py [--only quality|hate] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from head_cache import MAX_TOKENS, EmbeddingCache
from head_hate import hate
from head_quality import quality

from curate.classify.linear_head import LinearHead

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "curate" / "models"
CACHE = REPO / "out" / "heads" / f"minilm-{MAX_TOKENS}"


def _write(stem: str, head: tuple, labels: tuple[str, str], embedder: str, threshold: float | None,
           kind: str, report: dict) -> None:
    weights, bias = head
    path = MODELS / f"{stem}.npz"
    LinearHead(weights=weights, bias=bias, labels=labels, embedder=embedder, max_tokens=MAX_TOKENS,
               threshold=threshold).save(str(path))
    metrics = {"model": path.name, "kind": kind, "labels": list(labels), "positive_label": labels[1],
               "embedder": f"{embedder}, first {MAX_TOKENS} tokens, L2-normalised, float32",
               "default_cut": None if threshold is None else round(threshold, 4), **report,
               "model_bytes": path.stat().st_size, "command": f"python scripts/train_heads.py --only {stem.split('_')[0]}"}
    (MODELS / f"{stem}.metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {path} and its metrics", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["quality", "hate"], help="train one head")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for embedding texts not cached yet")
    args = parser.parse_args()
    cache = EmbeddingCache(CACHE, threads=args.threads)
    kind = "class-balanced logistic regression (L2 1e-3) on all-MiniLM-L6-v2 document vectors"
    if args.only in (None, "quality"):
        head, report = quality(cache, args.seed)
        _write("quality_minilm", head, ("lq", "hq"), cache.name, None, kind, report)
    if args.only in (None, "hate"):
        head, cut, report = hate(cache, args.seed)
        _write("hate_minilm", head, ("not_hate", "hate"), cache.name, cut, kind, report)


if __name__ == "__main__":
    main()
