"""How often the ``prox`` preset falls back (keeps the original) on real model programs.

Programs are written once by SmolLM2-135M (llama.cpp, CPU) for web pages of the
shared corpora and cached under ``out/prox_fallback/``; every later run replays
the cached programs through the stage's chunk pass and executor, so runs of
different code versions judge the very same programs.

Two sources of programs:

* ``prox``: SmolLM2 prompted exactly as ProX prompts its refining model
  (``preset: prox``, no grammar): mostly prose, some calls;
* ``instruct``: SmolLM2 prompted with the ``instruct`` preset's example and
  grammar, so every answer is a list of calls (out-of-chunk ranges and
  ``normalize`` misses included), then executed under ``preset: prox``.

The document pass is off (SmolLM2 is not ProX's document model): the figures
are about executing chunk programs. The stage's defaults decide everything
else (``min_words``, the emptied rules)::

    python benchmarks/prox_fallback.py --documents 24 --threads 1 --source instruct
    python benchmarks/prox_fallback.py --documents 12 --threads 1 --source instruct \
        --min-chars 2500 --max-chars 6000 --chunk-tokens 400     # several chunks per page
    python benchmarks/prox_fallback.py --smoke                   # one short page, instruct programs

With ``--chunk-tokens`` below ProX's 1,500 the packing of the two prompts can
differ; such documents are skipped (counted in ``skipped``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._compare import add_smoke_flag, compare
from benchmarks._corpora import default_corpora, read_corpus, require_corpora
from curate.documents import DOCUMENT_SCHEMA
from curate.lm import LM, LMConfig, load_lm
from curate.lm.base import Generation
from curate.stages.rewrite import RewriteParams, Rewriter

CACHE = Path(__file__).resolve().parents[1] / "out" / "prox_fallback"
CHUNK_TOKENS = 1500  # ProX's budget; by default documents are short enough to be one chunk under both prompts


class Recorder(LM):
    """Passes calls to a real model and keeps its chunk programs, in order."""

    backend = "recorder"

    def __init__(self, lm: LM) -> None:
        self.lm, self.outputs = lm, []
        self.constraint_kinds = lm.constraint_kinds

    def generate(self, prompts, params=None, constraint=None):
        out = self.lm.generate(prompts, params, constraint)
        self.outputs.extend(g.text for g in out)
        return out

    def count_tokens(self, texts):
        return self.lm.count_tokens(texts)

    def choice_logprobs(self, prompts, choices):
        raise NotImplementedError("chunk programs only")


class Replay(LM):
    """Answers with cached programs; counts tokens with the real tokenizer (chunks pack the same)."""

    backend = "replay"
    constraint_kinds = frozenset()

    def __init__(self, lm: LM, programs: list[str]) -> None:
        self.lm, self.programs = lm, list(programs)

    def generate(self, prompts, params=None, constraint=None):
        if len(prompts) != len(self.programs):
            raise ValueError(f"{len(prompts)} chunks, {len(self.programs)} cached programs")
        return [Generation(p, 0) for p in self.programs]

    def count_tokens(self, texts):
        return self.lm.count_tokens(texts)

    def choice_logprobs(self, prompts, choices):
        raise NotImplementedError("chunk programs only")


def web_documents(n: int, max_chars: int, min_chars: int = 0) -> list[tuple[str, str]]:
    """``n`` web pages of ``min_chars`` to ``max_chars`` characters, in a fixed hash order of their ids."""
    rows = [(r["id"], r["text"]) for r in read_corpus(default_corpora(), "web_pages")
            if r.get("text", "").strip() and min_chars <= len(r["text"]) <= max_chars]
    rows.sort(key=lambda r: hashlib.sha1(r[0].encode()).hexdigest())
    return rows[:n]


def table(doc_id: str, text: str) -> pa.Table:
    return pa.table({"id": [doc_id], "text": [text], "source": ["web_pages"], "meta": [None], "_order": [0]},
                    schema=DOCUMENT_SCHEMA)


def record(source: str, docs: list[tuple[str, str]], lm: LM, path: Path, chunk_tokens: int) -> dict[str, list[str]]:
    cached: dict[str, list[str]] = json.loads(path.read_text()) if path.exists() else {}
    params = RewriteParams(preset=source, document_level=False, min_words=0, chunk_tokens=chunk_tokens)
    for k, (doc_id, text) in enumerate(docs):
        if doc_id in cached:
            continue
        recorder = Recorder(lm)
        Rewriter(params, recorder).process(table(doc_id, text))
        cached[doc_id] = recorder.outputs
        path.write_text(json.dumps(cached, indent=1))
        print(f"recorded {source} {k + 1}/{len(docs)}", file=sys.stderr, flush=True)
    return cached


def judge(docs: list[tuple[str, str]], programs: dict[str, list[str]], lm: LM, chunk_tokens: int,
          preset: str = "prox") -> dict:
    """Replays the cached programs under ``preset``'s executor and counts what happened to each document."""
    params = RewriteParams(preset=preset, document_level=False, chunk_tokens=chunk_tokens)
    statuses: Counter[str] = Counter()
    errors = ignored = skipped = 0
    for doc_id, text in docs:
        row = Rewriter(params, Replay(lm, programs[doc_id])).process(table(doc_id, text)).to_pylist()[0]
        if "cached programs" in (row["rewrite_backend_error"] or ""):  # chunked unlike the recording
            skipped += 1
            continue
        statuses[row["rewrite_status"]] += 1
        errors += (row["rewrite_parse_errors"] or 0) + (row["rewrite_exec_errors"] or 0)
        ignored += row["rewrite_ignored_calls"] or 0
    judged = sum(statuses.values())
    return {"documents": judged, "skipped": skipped, "status": dict(sorted(statuses.items())),
            "fallback_rate": round(statuses["fallback"] / judged, 4) if judged else None,
            "errors_per_document": round(errors / judged, 3) if judged else None,
            "ignored_per_document": round(ignored / judged, 3) if judged else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=30)
    parser.add_argument("--max-chars", type=int, default=2500)
    parser.add_argument("--min-chars", type=int, default=0, help="longer pages make several chunks")
    parser.add_argument("--chunk-tokens", type=int, default=CHUNK_TOKENS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--source", action="append", choices=["prox", "instruct"],
                        help="program sources (default: both)")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.documents, args.max_chars, args.source = 1, 800, ["instruct"]
    require_corpora(default_corpora(), ["web_pages"], args.smoke)
    lm = load_lm(LMConfig(n_ctx=2048, n_threads=args.threads), threads=args.threads)
    docs = web_documents(args.documents, args.max_chars, args.min_chars)
    CACHE.mkdir(parents=True, exist_ok=True)
    for source in args.source or ["prox", "instruct"]:
        name = f"programs_{source}_{args.max_chars}" + (f"_{args.min_chars}_{args.chunk_tokens}"
                                                        if args.min_chars or args.chunk_tokens != CHUNK_TOKENS else "")
        programs = record(source, docs, lm, CACHE / f"{name}.json", args.chunk_tokens)
        prox = judge(docs, programs, lm, args.chunk_tokens)
        strict = judge(docs, programs, lm, args.chunk_tokens, preset="instruct")
        print(json.dumps({"programs": source, "model": "smollm2-135m-instruct", **prox,
                          "strict_executor": strict}))
        if prox["documents"] and strict["documents"]:
            compare(f"rewrite prox executor, documents edited without fallback ({source} programs, "
                    f"{prox['documents']} pages)", "strict instruct executor, same programs",
                    1 - strict["fallback_rate"], 1 - prox["fallback_rate"], "share")


if __name__ == "__main__":
    main()
