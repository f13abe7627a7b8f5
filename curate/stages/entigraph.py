"""``entigraph``: synthetic documents that relate a source document's entities (EntiGraph).

For each selected document, one call extracts a summary and the salient
entities as JSON (constrained where the backend allows, retried a bounded
number of times, repaired when broken); entities are cleaned; then one call per
sampled entity pair, and then triple, writes about the document through those
entities (see :mod:`curate.entigraph.generator`).

Synthetic rows carry ``source_id``, ``kind`` (summary, pair, triple),
``entities``, ``model`` and ``synthetic_tokens``; their ids derive from the
source id, the kind, the entities and the model, so a re-run or a resumed run
makes the same rows and never duplicates one. Every source row gets
``entigraph_status``, ``entigraph_entities``, ``entigraph_rows`` and
``entigraph_errors``; with ``emit: synthetic`` the sources then leave the
pipeline (``entigraph_source``, ``entigraph_no_output`` with the reason, or
``entigraph_unselected``).

The run-wide ``token_budget`` is shared out before any call: each document may
generate its share, proportional to its words among the selected documents
(computed over the whole input in :meth:`EntiGraph.prepare`), so the rows do
not depend on how documents are spread over workers, batches or resumes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from curate.engine.cluster import assigned_cpus
from curate.entigraph.generator import DocResult, EntiGraphGenerator
from curate.entigraph.overlap import add_counts, overlap_shares
from curate.entigraph.params import EntiGraphParams
from curate.entigraph.plan import budget_share, document_title, word_count
from curate.lm import load_lm
from curate.stage import PARENT_ID, ExpandResult, ExpandStage, ModelStage, Resources
from curate.stages.lm_actors import lm_resources
from curate.stages.subset import first_rows, smallest_keys
from curate.tables import ensure_drop_columns, mark_drops, set_column

SOURCE_FIELDS = [
    pa.field("entigraph_status", pa.string()),
    pa.field("entigraph_entities", pa.list_(pa.string())),
    pa.field("entigraph_rows", pa.int32()),
    pa.field("entigraph_errors", pa.list_(pa.string())),
]
CREATED_SCHEMA = pa.schema([
    pa.field("id", pa.string()), pa.field(PARENT_ID, pa.string()), pa.field("text", pa.string()),
    pa.field("source", pa.string()), pa.field("source_id", pa.string()), pa.field("kind", pa.string()),
    pa.field("entities", pa.list_(pa.string())), pa.field("model", pa.string()),
    pa.field("synthetic_tokens", pa.int64()),
])
UNSELECTED = "unselected"


class EntiGraph(ModelStage, ExpandStage[EntiGraphParams]):
    """Synthetic entity-relation documents from each source document (see the module docstring)."""

    name = "entigraph"
    Params = EntiGraphParams
    batch_size = 8

    def __init__(self, params: EntiGraphParams | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.selected: set[str] | None = None
        self.total_words: int | None = None
        self.generator: EntiGraphGenerator | None = None

    @property
    def resources(self) -> Resources:
        p = self.params
        return lm_resources(p.lm, p.num_cpus, p.num_gpus, p.concurrency)

    # ------------------------------------------------------------ whole input, on the driver
    def prepare(self, dataset: Any) -> None:
        """Choose the subset (``max_documents``) and count its words for the budget shares."""
        p = self.params
        if p.max_documents is None and p.token_budget is None:
            return
        rows = dataset.select_columns(["id", "text"]).map_batches(
            _keyed_words, fn_kwargs={"seed": p.sample_seed, "k": p.max_documents}, batch_format="pyarrow"
        ).take_all()
        if p.max_documents is not None:
            rows = first_rows(rows, p.max_documents)
            self.selected = {row["id"] for row in rows}
        self.total_words = sum(row["words"] for row in rows)

    def setup(self) -> None:
        p = self.params
        self.generator = EntiGraphGenerator(p, load_lm(p.lm, threads=p.lm.n_threads or assigned_cpus()))

    # ------------------------------------------------------------ batches
    def process_batch(self, batch: pa.Table) -> ExpandResult:
        p = self.params
        ids = batch.column("id").to_pylist()
        texts = batch.column("text").to_pylist()
        sources = batch.column("source").to_pylist() if "source" in batch.column_names else [None] * len(ids)
        chosen = [i for i, doc_id in enumerate(ids) if self.selected is None or doc_id in self.selected]
        results: list[DocResult | None] = [None] * len(ids)
        model, lm_seconds = "", 0.0
        if chosen:  # the model is loaded by the first batch that has a document to write about
            if self.generator is None:
                self.setup()
            generator = self.generator
            assert generator is not None
            words = [word_count(texts[i]) for i in chosen]
            total = self.total_words
            if total is None:  # not prepared (called outside the runner): this batch is the run
                total = sum(words)
            shares = [budget_share(p.token_budget, n, total) for n in words]
            seconds = generator.lm_seconds
            metas = batch.column("meta").to_pylist() if "meta" in batch.column_names else [None] * len(ids)
            titles = [document_title(texts[i], metas[i]) for i in chosen] if p.title else None
            done = generator.run([ids[i] for i in chosen], [texts[i] for i in chosen], shares, titles)
            for i, result in zip(chosen, done):
                results[i] = result
            model, lm_seconds = generator.model_name, generator.lm_seconds - seconds
        out = _source_columns(batch, results)
        out = _mark_sources(out, results) if p.emit == "synthetic" else ensure_drop_columns(out)
        created = _created(ids, sources, results, model)
        return ExpandResult(batch=out, created=created, stats=batch_stats(results, lm_seconds))

    @classmethod
    def summarize(cls, stats: dict[str, Any]) -> dict[str, Any]:
        return summarize(stats)


def _keyed_words(batch: pa.Table, seed: int, k: int | None) -> pa.Table:
    """A batch's ``k`` smallest subset keys with their documents' words; without a subset, only the word total."""
    words = [word_count(t) for t in batch.column("text").to_pylist()]
    if k is None:
        return pa.table({"id": pa.array([""], pa.string()), "key": pa.array([0], pa.uint64()),
                         "words": pa.array([sum(words)], pa.int64())})
    order, smallest = smallest_keys(batch.column("id").to_pylist(), seed, k)
    return smallest.append_column("words", pa.array([words[j] for j in order], pa.int64()))


def _source_columns(batch: pa.Table, results: list[DocResult | None]) -> pa.Table:
    values = {
        "entigraph_status": [r.status if r else UNSELECTED for r in results],
        "entigraph_entities": [r.entities if r else None for r in results],
        "entigraph_rows": [len(r.rows) if r else 0 for r in results],
        "entigraph_errors": [r.errors if r else None for r in results],
    }
    out = batch
    for f in SOURCE_FIELDS:
        out = set_column(out, f.name, pa.array(values[f.name], f.type))
    return out


def _mark_sources(table: pa.Table, results: list[DocResult | None]) -> pa.Table:
    """emit: synthetic: every source leaves, with why it made rows or not."""
    reasons, details = [], []
    for r in results:
        if r is None:
            reasons.append("entigraph_unselected")
            details.append(None)
        elif r.rows:
            reasons.append("entigraph_source")
            details.append(f"{len(r.rows)} synthetic rows")
        else:
            reasons.append("entigraph_no_output")
            details.append(r.status + (f": {r.errors[-1]}" if r.errors else ""))
    return mark_drops(table, np.ones(table.num_rows, dtype=bool), reasons, detail=details)


def _created(ids: list[str], sources: list[str | None], results: list[DocResult | None], model: str) -> pa.Table:
    columns: dict[str, list[Any]] = {f.name: [] for f in CREATED_SCHEMA}
    for doc_id, source, r in zip(ids, sources, results):
        for row in (r.rows if r else []):
            for name, value in (("id", row.id), (PARENT_ID, doc_id), ("text", row.text), ("source", source),
                                ("source_id", doc_id), ("kind", row.kind), ("entities", list(row.entities)),
                                ("model", model), ("synthetic_tokens", row.tokens)):
                columns[name].append(value)
    return pa.table(columns, schema=CREATED_SCHEMA)


def batch_stats(results: list[DocResult | None], lm_seconds: float) -> dict[str, Any]:
    """Summable numbers of one batch (the runner adds them up over batches)."""
    done = [r for r in results if r is not None]
    extracted = [r for r in done if r.calls["extract"]]
    statuses: dict[str, int] = {}
    for r in results:
        status = r.status if r else UNSELECTED
        statuses[status] = statuses.get(status, 0) + 1
    kinds = ("extract", "pair", "triple")
    rows = {kind: sum(1 for r in done for row in r.rows if row.kind == kind) for kind in ("summary", "pair", "triple")}
    ngram: dict[str, dict[str, int]] = {}
    for r in done:
        add_counts(ngram, r.overlap)
    return {
        "documents": len(results),
        "selected": len(done),
        "status": dict(sorted(statuses.items())),
        "calls": {kind: sum(r.calls[kind] for r in done) for kind in kinds},
        "calls_failed": {kind: sum(r.failed[kind] for r in done) for kind in kinds},
        "extracted_documents": len(extracted),
        "extract_first_try": sum(1 for r in extracted if r.first_try),
        "extract_repaired": sum(r.repaired for r in done),
        "entities": sum(len(r.entities) for r in done),
        "documents_with_entities": sum(1 for r in done if r.entities),
        "pairs_possible": sum(r.pairs_possible for r in done),
        "triples_possible": sum(r.triples_possible for r in done),
        "rows": rows,
        "budget_stopped": sum(1 for r in done if r.budget_stopped),
        "source_tokens": sum(r.source_tokens for r in done if r.calls["extract"]),
        "synthetic_tokens": sum(row.tokens for r in done for row in r.rows),
        "generated_tokens": sum(r.generated_tokens for r in done),
        "lm_seconds": round(lm_seconds, 3),
        "ngram": ngram,
    }


def summarize(stats: dict[str, Any]) -> dict[str, Any]:
    """Ratios from the summed batch numbers: tokens per source token, coverage, overlap, speed."""
    out = dict(stats)

    def ratio(a: float, b: float, digits: int = 4) -> float | None:
        return round(a / b, digits) if b else None

    rows = stats.get("rows", {})
    out["synthetic_per_source_token"] = ratio(stats.get("synthetic_tokens", 0), stats.get("source_tokens", 0))
    out["entities_per_document"] = ratio(stats.get("entities", 0), stats.get("extracted_documents", 0), 2)
    out["extract_first_try_share"] = ratio(stats.get("extract_first_try", 0), stats.get("extracted_documents", 0))
    out["pair_coverage"] = ratio(rows.get("pair", 0), stats.get("pairs_possible", 0))
    out["triple_coverage"] = ratio(rows.get("triple", 0), stats.get("triples_possible", 0))
    out["ngram_overlap"] = overlap_shares(stats.get("ngram", {}))
    out["generated_tokens_per_s"] = ratio(stats.get("generated_tokens", 0), stats.get("lm_seconds", 0), 1)
    return out
