"""Rewrite throughput: documents/s and generated tokens/s on the sample.

Runs the rewrite stage's batch code (no Ray, so the numbers are the model's)
on a deterministic subset of ``data/sample`` and prints the stage's summary
(programs parsed and executed, drops, token retention) with the speed.

    python benchmarks/rewrite.py                          # blocks (no LM) and line_lm (SmolLM2, llamacpp)
    python benchmarks/rewrite.py --backend vllm --model /models/web-chunk-refining-lm \
        --doc-model /models/web-doc-refining-lm --preset prox --documents 2000

On a GPU machine with vLLM installed, ``benchmarks/rewrite_vllm_gpu.sh`` runs the second form.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import pyarrow as pa
import xxhash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._compare import add_smoke_flag, compare
from benchmarks._corpora import SAMPLE, read_corpus
from curate.documents import DOCUMENT_SCHEMA
from curate.lm import LMConfig, load_lm
from curate.rewriting.repeats import LineRepeats
from curate.stage import DROP_REASON
from curate.stages.rewrite import RewriteParams, Rewriter, summarize


def sample_documents(n: int, max_chars: int) -> pa.Table:
    rows = []
    for path in sorted(glob.glob(os.path.join(SAMPLE, "*"))):
        source = os.path.basename(path).removesuffix(".jsonl.zst").removesuffix(".parquet")
        for k, record in enumerate(read_corpus(SAMPLE, source)):
            text = record.get("text") or ""
            if text.strip() and len(text) <= max_chars:
                name = f"{os.path.basename(path)}:{k}"  # independent of where the repository lies
                rows.append((xxhash.xxh64_intdigest(name.encode()), name, text))
    rows.sort()
    rows = rows[:n]
    return pa.table({"id": [r[1] for r in rows], "text": [r[2] for r in rows], "source": ["sample"] * len(rows),
                     "meta": [None] * len(rows), "_order": list(range(len(rows)))}, schema=DOCUMENT_SCHEMA)


def run(preset: str, lm_config: LMConfig, table: pa.Table, threads: int, lm=None,
        doc_config: LMConfig | None = None) -> tuple[dict, object]:
    # every line is classified (no short-document guard, no document pass), so lines/s compare like for like;
    # prox runs its document pass only with a document model (--doc-model)
    document_level = preset != "line_lm" and (preset != "prox" or doc_config is not None)
    params = RewriteParams(lm=lm_config, doc_lm=doc_config if preset == "prox" else None, preset=preset,
                           min_words=0, document_level=document_level)
    doc_lm = None
    if params.needs_lm:
        lm = lm or load_lm(params.lm, threads=threads)
        doc_lm = load_lm(params.doc_lm, threads=threads) if params.doc_lm is not None and document_level else None
    repeats, count_seconds = None, 0.0
    if preset == "blocks":  # the stage's prepare step: line counts over the whole input, timed apart
        started = time.time()
        repeats = LineRepeats.from_texts(table.column("text").to_pylist())
        count_seconds = time.time() - started
    started = time.time()
    out = Rewriter(params, lm if params.needs_lm else None, doc_lm, repeats=repeats).process(table)
    seconds = time.time() - started
    lines = sum(1 for text in table.column("text").to_pylist() for line in text.split("\n") if line.strip())
    stats = summarize(out.to_pylist())
    if preset == "blocks":
        stats.update(prepare_line_counts_lines_per_s=round(lines / max(count_seconds, 1e-9), 1))
    stats.update(preset=preset, backend=lm_config.backend, model=lm_config.model, seconds=round(seconds, 2),
                 documents_per_s=round(table.num_rows / seconds, 3), lines_per_s=round(lines / seconds, 2),
                 generated_tokens_per_s=round(stats["generated_tokens"] / seconds, 1),
                 input_tokens_per_s=round(stats["tokens_in"] / seconds, 1),
                 drop_reasons={r: out.column(DROP_REASON).to_pylist().count(r)
                               for r in ("rewrite_drop_doc", "rewrite_emptied")})
    return stats, lm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="llamacpp", choices=["llamacpp", "openai", "vllm"])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1")
    parser.add_argument("--doc-model", help="prox: the document model (web-doc-refining-lm); omitted, the "
                                            "document pass is skipped")
    parser.add_argument("--preset", action="append", choices=["blocks", "line_lm", "instruct", "prox"],
                        help="presets to run (default: blocks and line_lm)")
    parser.add_argument("--documents", type=int, default=12)
    parser.add_argument("--max-chars", type=int, default=4000, help="skip longer sample documents")
    parser.add_argument("--threads", type=int, default=2)
    add_smoke_flag(parser)
    args = parser.parse_args()
    config = LMConfig(backend=args.backend, model=args.model, base_url=args.base_url)
    table = sample_documents(2 if args.smoke else args.documents, 1500 if args.smoke else args.max_chars)
    doc_config = LMConfig(backend=args.backend, model=args.doc_model, base_url=args.base_url) \
        if args.doc_model else None
    lm = None
    results = {}
    for preset in args.preset or ["blocks", "line_lm"]:
        stats, lm = run(preset, config, table, args.threads, lm, doc_config)
        results[preset] = stats
        print(json.dumps(stats))
    if "blocks" in results and "line_lm" in results:
        compare(f"rewrite lines/s on {args.threads} threads, blocks preset vs per-line LM", "line_lm (SmolLM2-135M)",
                results["line_lm"]["lines_per_s"], results["blocks"]["lines_per_s"], "lines/s")


if __name__ == "__main__":
    main()
