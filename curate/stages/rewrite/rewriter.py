"""The rewrite's loop over a batch: lines, chunks, the preset's programs, and each document's outcome.

Per selected document: the document pass (presets with a model) drops or
keeps it; its lines are packed into chunks by token count; the preset writes
one program per chunk; the programs run, and the result settles the
document's status (see :mod:`curate.stages.rewrite` for the rules).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from curate.lm import LM, LMUnavailableError
from curate.rewriting.program import Execution, word_count
from curate.rewriting.repeats import LineRepeats
from curate.stages.rewrite.budget import doc_text
from curate.stages.rewrite.params import RewriteParams
from curate.stages.rewrite.presets import PRESETS
from curate.stages.rewrite.results import OUTPUT_FIELDS, STATUS_UNSELECTED, DocResult
from curate.tables import mark_drops, set_column


def backend_fallback(text: str, exc: BaseException) -> DocResult:
    """The result for a document whose model calls failed: the original text, the error recorded."""
    message = f"{type(exc).__name__}: {exc}"[:500]
    return DocResult("fallback", text, backend_error=message, exec_errors=[f"backend: {message}"])


def pack_chunks(token_counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Greedy inclusive line ranges whose token counts sum to at most ``budget`` (a longer line stands alone)."""
    chunks: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, count in enumerate(token_counts):
        if i > start and used + count > budget:
            chunks.append((start, i - 1))
            start, used = i, 0
        used += count
    if token_counts:
        chunks.append((start, len(token_counts) - 1))
    return chunks


class Rewriter:
    """Runs the rewrite over batches with a loaded model; no Ray needed."""

    def __init__(self, params: RewriteParams, lm: LM | None, doc_lm: LM | None = None,
                 repeats: LineRepeats | None = None) -> None:
        if lm is None and params.needs_lm:
            raise ValueError(f"the {params.preset} preset needs a model")
        self.p = params
        self.lm = lm  # the chunk pass's model (and tokenizer)
        self.doc_lm = doc_lm or lm
        self.preset = PRESETS[params.preset](params, lm, self.doc_lm, repeats)

    # ------------------------------------------------------------ batch
    def process(self, batch: pa.Table, selected: set[str] | None = None) -> pa.Table:
        p = self.p
        texts = batch.column("text").to_pylist()
        ids = batch.column("id").to_pylist()
        chosen = [t is not None and (selected is None or i in selected) for i, t in zip(ids, texts)]
        results: list[DocResult | None] = [None] * len(texts)
        work = [i for i, c in enumerate(chosen) if c]
        if work:
            for i, result in zip(work, self.rewrite([texts[i] for i in work])):
                results[i] = result
        columns: dict[str, list[Any]] = {f.name: [] for f in OUTPUT_FIELDS}
        new_text = []
        for text, result in zip(texts, results):
            if result is None:
                new_text.append(text)
                for name, value in (("rewritten", False), ("rewrite_status", STATUS_UNSELECTED)):
                    columns[name].append(value)
                for name in columns:
                    if name not in ("rewritten", "rewrite_status"):
                        columns[name].append(None)
                continue
            new_text.append(result.text)
            columns["rewritten"].append(True)
            columns["rewrite_status"].append(result.status)
            columns["rewrite_doc_program"].append(result.doc_program)
            columns["rewrite_programs"].append(result.programs)
            columns["rewrite_parse_errors"].append(len(result.parse_errors))
            columns["rewrite_exec_errors"].append(len(result.exec_errors))
            columns["rewrite_error_log"].append(result.parse_errors + result.exec_errors)
            columns["rewrite_tokens_in"].append(result.tokens_in)
            columns["rewrite_tokens_out"].append(result.tokens_out)
            columns["rewrite_generated_tokens"].append(result.generated)
            columns["rewrite_backend_error"].append(result.backend_error)
            columns["rewrite_ignored_calls"].append(result.ignored)
        out = batch
        if p.keep_original:
            out = set_column(out, "original_text", pa.array(texts, pa.string()))
        out = set_column(out, "text", pa.array(new_text, pa.string()))
        for f in OUTPUT_FIELDS:
            out = set_column(out, f.name, pa.array(columns[f.name], f.type))
        statuses = columns["rewrite_status"]
        out = mark_drops(out, np.zeros(out.num_rows, dtype=bool), "")  # adds the (empty) drop columns
        for reason, status in (("rewrite_drop_doc", "dropped"), ("rewrite_emptied", "emptied")):
            mask = np.array([s == status for s in statuses])
            if mask.any():
                detail = [_detail(r) if m else None for r, m in zip(results, mask)]
                out = mark_drops(out, mask, reason, detail=detail)
        return out

    # ------------------------------------------------------------ documents
    def rewrite(self, texts: list[str]) -> list[DocResult]:
        """Rewrite documents; a model failure costs only the documents it touches, which keep their text.

        A batch whose model calls fail is retried one document at a time, so one document the backend
        rejects (too long, a 400, garbage) falls back alone; an unreachable server fails the batch at once.
        """
        try:
            return self._rewrite(texts)
        except Exception as exc:  # any backend failure: the documents are kept, the error recorded
            if len(texts) == 1 or isinstance(exc, LMUnavailableError):
                return [backend_fallback(text, exc) for text in texts]
            return [self.rewrite([text])[0] for text in texts]

    def _rewrite(self, texts: list[str]) -> list[DocResult]:
        p = self.p
        docs = [text.split("\n") for text in texts]
        counts = self._line_tokens(docs)
        results = [DocResult("unchanged", text, tokens_in=sum(c), tokens_out=sum(c)) for text, c in zip(texts, counts)]
        live = [i for i, text in enumerate(texts) if text.strip()]
        for i in set(range(len(texts))) - set(live):
            results[i].status = "empty_input"
        if p.document_level and live and p.needs_lm:
            bodies = [doc_text(docs[i], counts[i], p.doc_budget, self.doc_lm) for i in live]
            decisions = self.preset.document_pass(bodies)
            for i, (program, drop, errors, generated) in zip(live, decisions):
                r = results[i]
                r.doc_program, r.parse_errors, r.generated = program, errors, r.generated + generated
                if drop:
                    r.status, r.tokens_out = "dropped", 0
            live = [i for i in live if results[i].status != "dropped"]
        live = [i for i in live if word_count(texts[i]) >= p.min_words]
        if p.chunk_level and live:
            chunks = {i: pack_chunks(counts[i], p.chunk_tokens) for i in live}
            programs = self.preset.chunk_pass({i: docs[i] for i in live}, chunks, {i: counts[i] for i in live})
            for i in live:
                r = results[i]
                chunk_programs, generated = programs[i]
                r.programs, r.generated = chunk_programs, r.generated + generated
                run = self.preset.execute(docs[i], chunks[i], chunk_programs)
                r.ignored = run.ignored
                r.parse_errors = r.parse_errors + run.parse_errors
                r.exec_errors = run.exec_errors
                self._settle(r, texts[i], docs[i], counts[i], run)
        return results

    def _settle(self, r: DocResult, text: str, lines: list[str], counts: list[int], run: Execution) -> None:
        """The document's status and text after its chunk programs ran.

        Too many failed calls (``max_errors``) keep the original text; whether an edit that leaves few words
        drops the document, and whether that rule comes first, is the preset's
        (:meth:`curate.stages.rewrite.presets.base.Preset.emptied`).
        """
        p = self.p
        failed = len(r.parse_errors) + len(r.exec_errors) >= p.max_errors
        changed = bool(run.removed) or run.lines != lines
        before, after = word_count(text), word_count(run.text) if changed else word_count(text)
        if self.preset.emptied(before, after, changed, failed):  # the row (and so _dropped/) keeps the original
            r.status, r.tokens_out, r.words_left = "emptied", 0, after
        elif failed:
            r.status = "fallback"
        elif changed:
            new_text = run.text
            r.status, r.text = "edited", new_text
            r.tokens_out = self._count([new_text])[0] if run.lines != lines else \
                sum(c for j, c in enumerate(counts) if j not in run.removed)

    def _count(self, texts: list[str]) -> list[int]:
        """Tokens in the chunk model's tokenizer; whitespace words for the blocks preset (no model)."""
        if self.lm is None:
            return [len(t.split()) for t in texts]
        return self.lm.count_tokens(texts) if texts else []

    def _line_tokens(self, docs: list[list[str]]) -> list[list[int]]:
        """Tokens per line plus one, for the newline (of the preset's token lines: prox counts numbered lines)."""
        flat = [text for lines in docs for text in self.preset.token_lines(lines)]
        counts = self._count(flat)
        out, k = [], 0
        for lines in docs:
            # +1 for the newline that joins lines.
            out.append([c + 1 for c in counts[k:k + len(lines)]])
            k += len(lines)
        return out


def _detail(result: DocResult | None) -> str | None:
    if result is None:
        return None
    if result.status == "dropped":
        return f"program: {result.doc_program}"
    return f"{result.words_left} of {word_count(result.text)} words would be left"
