"""The ``rewrite`` stage: a model stage (one model per actor, none for ``blocks``) around :class:`Rewriter`.

What it does and by which rules is told in the package's docstring (:mod:`curate.stages.rewrite`), the
module docstring that :class:`Rewrite` points to.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.engine.cluster import assigned_cpus
from curate.lm import load_lm
from curate.rewriting.repeats import LineRepeats, document_hashes
from curate.stage import MapStage, ModelStage, Resources
from curate.stages.lm_actors import lm_resources
from curate.stages.rewrite.params import RewriteParams
from curate.stages.rewrite.results import OUTPUT_FIELDS
from curate.stages.rewrite.rewriter import Rewriter
from curate.stages.subset import first_rows, smallest_keys


def _rows_of(batch: pa.Table, ids: list[str]) -> pa.Table:
    return batch.filter(pc.is_in(batch.column("id"), pa.array(ids, pa.string())))


def _smallest_keys(batch: pa.Table, seed: int, k: int) -> pa.Table:
    return smallest_keys(batch.column("id").to_pylist(), seed, k)[1]


class Rewrite(ModelStage, MapStage[RewriteParams]):
    """Edit documents with a small LM through ProX programs (see the module docstring)."""

    name = "rewrite"
    Params = RewriteParams
    batch_size = 16

    def __init__(self, params: RewriteParams | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.selected: set[str] | None = None
        self.repeats: LineRepeats | None = None
        self.rewriter: Rewriter | None = None

    @property
    def resources(self) -> Resources:
        p = self.params
        if not p.needs_lm:
            return Resources(num_cpus=p.num_cpus or 1.0, num_gpus=p.num_gpus or 0.0, concurrency=p.concurrency)
        return lm_resources(p.lm, p.num_cpus, p.num_gpus, p.concurrency)

    def prepare(self, dataset: Any) -> None:
        """Choose the deterministic subset (``max_documents``) over the whole input; for the blocks preset,
        count in how many documents of the whole input each line occurs (``corpus_repeats``)."""
        p = self.params
        self.selected = None if p.max_documents is None else set(self.select(dataset))
        if p.preset == "blocks" and p.corpus_repeats and p.chunk_level:
            self.repeats = LineRepeats.from_dataset(dataset, only=self._selected_lines(dataset))

    def _selected_lines(self, dataset: Any) -> set[int] | None:
        """The line hashes of the chosen documents (None without ``max_documents``: every line counts)."""
        if self.selected is None:
            return None
        rows = dataset.select_columns(["id", "text"]).map_batches(
            _rows_of, fn_kwargs={"ids": sorted(self.selected)}, batch_format="pyarrow").take_all()
        return set().union(*(document_hashes((row["text"] or "").split("\n")) for row in rows))

    def select(self, dataset: Any) -> list[str]:
        """Ids of the deterministic subset: the smallest keys of ``sample_seed`` and the id."""
        p = self.params
        if not p.max_documents:
            return []
        candidates = dataset.select_columns(["id"]).map_batches(
            _smallest_keys, fn_kwargs={"seed": p.sample_seed, "k": p.max_documents}, batch_format="pyarrow"
        ).take_all()
        return [row["id"] for row in first_rows(candidates, p.max_documents)]

    def setup(self) -> None:
        p = self.params
        if not p.needs_lm:
            self.rewriter = Rewriter(p, None, repeats=self.repeats)
            return
        threads = p.lm.n_threads or assigned_cpus()
        lm = load_lm(p.lm, threads=threads)
        doc_lm = load_lm(p.doc_lm, threads=threads) if p.doc_lm is not None and p.doc_lm != p.lm else None
        self.rewriter = Rewriter(p, lm, doc_lm)

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, dict[str, Any]]:
        if self.rewriter is None:
            self.setup()
        assert self.rewriter is not None  # set by setup
        marked = self.rewriter.process(batch, self.selected)
        return marked, batch_stats(marked.select([f.name for f in OUTPUT_FIELDS]).to_pylist())

    @classmethod
    def summarize(cls, stats: dict[str, Any]) -> dict[str, Any]:
        tokens_in, tokens_out = stats.get("tokens_in", 0), stats.get("tokens_out", 0)
        return dict(stats, token_retention=round(tokens_out / tokens_in, 4) if tokens_in else None)


def batch_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Numbers for the manifest from one batch's output columns; the runner sums them over batches."""
    done = [r for r in rows if r["rewritten"]]
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["rewrite_status"]] = statuses.get(r["rewrite_status"], 0) + 1
    return {
        "documents": len(rows),
        "rewritten": len(done),
        "status": dict(sorted(statuses.items())),
        "programs_parsed": sum(1 for r in done if not r["rewrite_parse_errors"]),
        "programs_executed": sum(1 for r in done if not r["rewrite_parse_errors"] and not r["rewrite_exec_errors"]),
        "dropped": statuses.get("dropped", 0) + statuses.get("emptied", 0),
        "kept_original": statuses.get("fallback", 0),
        "tokens_in": sum(r["rewrite_tokens_in"] or 0 for r in done),
        "tokens_out": sum(r["rewrite_tokens_out"] or 0 for r in done),
        "generated_tokens": sum(r["rewrite_generated_tokens"] or 0 for r in done),
        "backend_errors": sum(1 for r in done if r["rewrite_backend_error"]),
        "ignored_calls": sum(r["rewrite_ignored_calls"] or 0 for r in done),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's numbers for a set of output rows (one batch's numbers plus token retention)."""
    return Rewrite.summarize(batch_stats(rows))
