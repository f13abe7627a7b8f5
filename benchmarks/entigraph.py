"""EntiGraph on a few sample documents: quality figures and generation speed against raw llama.cpp.

Runs the entigraph stage's batch code (no Ray) with SmolLM2-135M through the
``llamacpp`` backend on short news articles from ``data/sample``, recording
every prompt it sends; then replays exactly those prompts (same rendered text,
sampling settings, seed and JSON-schema grammar) through llama-cpp-python's
``create_completion``, the plain way to generate with llama.cpp. Both sides
use the same loaded model in this process.

Prints per-document entities and statuses, the stage's summary (entities per
document, extraction first-try share, synthetic tokens per source token,
n-gram overlap, calls) and, last, the COMPARE line of generated tokens per
second (stage wall time, including parsing and planning, against the raw
calls' wall time), measured document by document, alternating.

    python benchmarks/entigraph.py                 # 4 documents, 2 pairs and 1 triple each
    python benchmarks/entigraph.py --threads 1     # on a busy machine: one thread stalls less
    python benchmarks/entigraph.py --smoke         # 1 document, tiny limits
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import pyarrow as pa
import xxhash

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import SAMPLE, read_corpus  # noqa: E402
from curate.documents import DOCUMENT_SCHEMA  # noqa: E402
from curate.engine.units import add_stats  # noqa: E402
from curate.entigraph.generator import EntiGraphGenerator  # noqa: E402
from curate.lm import LM, LMConfig, SamplingParams, load_lm  # noqa: E402
from curate.stages.entigraph import EntiGraph, summarize  # noqa: E402


def sample_documents(n: int, min_words: int, max_words: int) -> pa.Table:
    """``n`` news articles of ``min_words``..``max_words`` words, a deterministic choice by hashed id."""
    rows = []
    for k, record in enumerate(read_corpus(SAMPLE, "bbc_news")):
        text = record.get("text") or ""
        if min_words <= len(text.split()) <= max_words:
            name = f"bbc_news:{k}"
            rows.append((xxhash.xxh64_intdigest(name.encode()), name, text))
    rows = sorted(rows)[:n]
    return pa.table({"id": [r[1] for r in rows], "text": [r[2] for r in rows], "source": ["bbc_news"] * len(rows),
                     "meta": [None] * len(rows), "_order": list(range(len(rows)))}, schema=DOCUMENT_SCHEMA)


class Recording(LM):
    """Passes calls to a model and keeps each (prompt, sampling, constraint, generated tokens)."""

    def __init__(self, inner: LM) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.constraint_kinds = inner.constraint_kinds
        self.calls: list[tuple[Any, Any, Any, int]] = []

    def generate(self, prompts, params=None, constraint=None):
        out = self.inner.generate(prompts, params, constraint)
        self.calls.extend((p, params, constraint, g.tokens) for p, g in zip(prompts, out))
        return out

    def choice_logprobs(self, prompts, choices):
        return self.inner.choice_logprobs(prompts, choices)

    def count_tokens(self, texts):
        return self.inner.count_tokens(texts)


def raw_llamacpp(lm: Any, calls: list[tuple[Any, Any, Any, int]]) -> tuple[int, float]:
    """Replay the calls with llama-cpp-python directly: generated tokens and seconds."""
    from llama_cpp import LlamaGrammar

    grammars: dict[str, Any] = {}
    texts = [lm.render(prompt) for prompt, _, _, _ in calls]
    tokens = 0
    started = time.perf_counter()
    for text, (_, params, constraint, _) in zip(texts, calls):
        grammar = None
        if constraint is not None:
            schema = json.dumps(constraint.value)
            if schema not in grammars:
                grammars[schema] = LlamaGrammar.from_json_schema(schema, verbose=False)
            grammar = grammars[schema]
        out = lm.llm.create_completion(text, max_tokens=params.max_tokens, temperature=params.temperature,
                                       top_p=params.top_p, repeat_penalty=params.repeat_penalty, seed=params.seed,
                                       grammar=grammar)
        tokens += int(out["usage"]["completion_tokens"])
    return tokens, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=4)
    parser.add_argument("--min-words", type=int, default=100)
    parser.add_argument("--max-words", type=int, default=220)
    parser.add_argument("--max-pairs", type=int, default=2)
    parser.add_argument("--max-triples", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=160, help="new tokens per relation call")
    parser.add_argument("--threads", type=int, default=2)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.documents, args.max_pairs, args.max_triples, args.max_tokens = 1, 1, 0, 24
    stage = EntiGraph(emit="both", max_pairs=args.max_pairs, max_triples=args.max_triples,
                      extract={"temperature": 0.0, "max_tokens": 48 if args.smoke else 200},
                      pair={"max_tokens": args.max_tokens}, triple={"max_tokens": args.max_tokens})
    lm = load_lm(LMConfig(n_ctx=2048), threads=args.threads)
    recording = Recording(lm)
    stage.generator = EntiGraphGenerator(stage.params, recording)
    table = sample_documents(args.documents, args.min_words, args.max_words)

    lm.generate(["Hello"], SamplingParams(max_tokens=4))  # warm-up: the first evaluation of a model is slower
    # Document by document, curate then the raw replay of that document's calls, so that load changes on a
    # shared machine hit both sides alike.
    totals: dict[str, Any] = {}
    seconds = raw_seconds = 0.0
    raw_tokens = 0
    examples = []
    for k in range(table.num_rows):
        doc = table.slice(k, 1)
        recording.calls.clear()
        started = time.perf_counter()
        out = stage.process_batch(doc)
        seconds += time.perf_counter() - started
        tokens, spent = raw_llamacpp(lm, recording.calls)
        raw_tokens += tokens
        raw_seconds += spent
        totals = add_stats(totals, out.stats)
        one = summarize(out.stats)
        row = out.batch.to_pylist()[0]
        print(json.dumps({"id": row["id"], "status": row["entigraph_status"], "entities": row["entigraph_entities"],
                          "rows": row["entigraph_rows"], "synthetic_per_source_token": one["synthetic_per_source_token"],
                          "ngram_overlap": one["ngram_overlap"], "errors": row["entigraph_errors"]}))
        examples += out.created.to_pylist()
    for row in examples[:3 if args.smoke else 12]:
        print(json.dumps({"id": row["id"], "kind": row["kind"], "entities": row["entities"], "text": row["text"]}))
    stats = summarize(totals)
    keep = ("documents", "status", "calls", "calls_failed", "entities_per_document", "extract_first_try_share",
            "extract_repaired", "synthetic_tokens", "source_tokens", "synthetic_per_source_token", "pair_coverage",
            "triple_coverage", "ngram_overlap", "generated_tokens")
    print(json.dumps({k: stats[k] for k in keep}))
    calls = sum(stats["calls"].values())
    print(f"curate: {calls} calls, {stats['generated_tokens']} generated tokens in {seconds:.1f} s "
          f"({calls / seconds:.2f} calls/s, {stats['generated_tokens'] / seconds:.1f} tokens/s)")
    print(f"raw llama.cpp: the same {calls} prompts, {raw_tokens} generated tokens in {raw_seconds:.1f} s")
    lm.close()
    compare("entigraph generation, SmolLM2-135M on CPU", "llama-cpp-python create_completion", raw_tokens / raw_seconds,
            stats["generated_tokens"] / seconds, "generated tokens/s")


if __name__ == "__main__":
    main()
