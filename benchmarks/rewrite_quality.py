"""Quality of the rewrite stage's line removal on boilerplate_pairs.

Each record has a documentation page's full text (``text``: navigation, headers
and footers included) and its main content (``main_text``). A line of ``text``
is *content* when the alignment of the two line sequences matches it, else
*boilerplate*. The script scores every non-empty line with the stage's own
prompt and model (small preset: P(boilerplate) from log-probabilities) and
reports, for a threshold, the share of boilerplate lines removed and of content
lines kept (a document dropped by the document-level pass loses all its lines).

``--fit`` chooses the line threshold on a "fit" half of the sampled pages (the
largest removal that keeps at least ``--target`` of content lines there) and
reports it on the other, held-out half.

    python benchmarks/rewrite_quality.py --pages 24 --max-lines 200 --fit
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import sys
import time

import xxhash
import zstandard

from curate.lm import load_lm
from curate.stages.rewrite import RewriteParams, Rewriter

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpora", "boilerplate_pairs.jsonl.zst")


def load_pages(path: str) -> list[dict]:
    with open(path, "rb") as handle:
        reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(handle), encoding="utf-8")
        return [json.loads(line) for line in reader if line.strip()]


def line_labels(text: str, main: str) -> list[bool | None]:
    """Per line of ``text``: True = content, False = boilerplate, None = blank."""
    lines = text.split("\n")
    main_lines = [line.strip() for line in main.split("\n")]
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in lines], main_lines, autojunk=False)
    content: set[int] = set()
    for block in matcher.get_matching_blocks():
        content.update(range(block.a, block.a + block.size))
    return [None if not line.strip() else (i in content) for i, line in enumerate(lines)]


def measure(records: list[dict], threshold: float, drop_threshold: float) -> dict:
    content = content_kept = boiler = boiler_removed = dropped = 0
    for r in records:
        drop = r["p_drop"] >= drop_threshold
        dropped += drop
        for j, label in enumerate(r["labels"]):
            if label is None:
                continue
            removed = drop or r["p_line"].get(str(j), 0.0) >= threshold
            if label:
                content += 1
                content_kept += not removed
            else:
                boiler += 1
                boiler_removed += removed
    return {"threshold": threshold, "pages": len(records), "pages_dropped": dropped,
            "content_lines": content, "boilerplate_lines": boiler,
            "content_kept": round(content_kept / max(1, content), 4),
            "boilerplate_removed": round(boiler_removed / max(1, boiler), 4)}


def fit(records: list[dict], target: float, drop_threshold: float) -> float:
    candidates = sorted({round(p, 4) for r in records for p in r["p_line"].values()} | {1.0})
    best = 1.0
    for threshold in reversed(candidates):
        if measure(records, threshold, drop_threshold)["content_kept"] >= target:
            best = threshold
        else:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=40, help="pages to score (a deterministic sample)")
    parser.add_argument("--max-lines", type=int, default=None,
                        help="sample only pages with at most this many non-empty lines (scoring costs a model "
                             "call per line)")
    parser.add_argument("--fit", action="store_true", help="fit the line threshold on half of the pages")
    parser.add_argument("--target", type=float, default=0.95, help="content share to keep when fitting")
    parser.add_argument("--threshold", type=float, default=None, help="line threshold (default: the stage's)")
    parser.add_argument("--cache", default="out/rewrite_quality_scores.json", help="scores cache (reused if present)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    params = RewriteParams()
    threshold = params.line_threshold if args.threshold is None else args.threshold

    pages = load_pages(args.data)
    pages.sort(key=lambda p: xxhash.xxh64_intdigest(p["id"].encode()))
    if args.max_lines is not None:
        pages = [p for p in pages if sum(1 for line in p["text"].split("\n") if line.strip()) <= args.max_lines]
    pages = pages[:args.pages]
    # Scores are cached per page id (written after every page), so an interrupted run resumes.
    cache: dict[str, dict] = {}
    if os.path.exists(args.cache):
        cache = json.load(open(args.cache)).get("pages", {})
    todo = [page for page in pages if page["id"] not in cache]
    if todo:
        rewriter = Rewriter(params, load_lm(params.lm, threads=args.threads))
        started = time.time()
        lines_scored = 0
        os.makedirs(os.path.dirname(args.cache) or ".", exist_ok=True)
        for k, page in enumerate(todo):
            lines = page["text"].split("\n")
            probs = rewriter.line_probabilities({0: lines})[0]
            counts = rewriter._line_tokens([lines])[0]
            p_drop = rewriter.doc_drop_probabilities([rewriter._doc_text(lines, counts)])[0]
            lines_scored += len(probs)
            cache[page["id"]] = {"id": page["id"], "labels": line_labels(page["text"], page["main_text"]),
                                 "p_line": {str(j): p for j, p in probs.items()}, "p_drop": p_drop}
            with open(args.cache + ".tmp", "w") as handle:
                json.dump({"pages": cache}, handle)
            os.replace(args.cache + ".tmp", args.cache)
            print(f"  {k + 1}/{len(todo)} pages, {lines_scored / (time.time() - started):.1f} lines/s",
                  file=sys.stderr)
    records = [cache[page["id"]] for page in pages]
    result: dict = {"pages": len(records), "drop_threshold": params.drop_threshold}
    if args.fit:
        fit_set = [r for r in records if xxhash.xxh64_intdigest(r["id"].encode()) % 2 == 0]
        held_out = [r for r in records if xxhash.xxh64_intdigest(r["id"].encode()) % 2 == 1]
        fitted = fit(fit_set, args.target, params.drop_threshold)
        result["fitted_threshold"] = fitted
        result["fit"] = measure(fit_set, fitted, params.drop_threshold)
        result["held_out"] = measure(held_out, fitted, params.drop_threshold)
    result["all_pages_at_threshold"] = measure(records, threshold, params.drop_threshold)
    result["curve"] = [measure(records, t, params.drop_threshold) for t in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
