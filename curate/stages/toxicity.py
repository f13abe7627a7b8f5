"""``toxicity``: the shipped fastText toxicity classifier, per sentence (Dolma's method) or per document.

``level: sentence`` (default) scores each sentence and removes the sentences
scoring at or above ``threshold`` (tau, 0.4 as in Dolma) from the text,
recording how many were removed; a document left empty is dropped with reason
``toxic_all_sentences`` and its original text. ``level: document`` scores
whole documents like ``classify`` (absolute or percentile cut, keep below or
above). Column ``toxicity_score``: P(toxic) of the document, or at sentence
level of its most toxic sentence. See docs/classifiers.md for the model's
limits: it was trained on tweets.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.classify.sentences import sentence_spans
from curate.classify.threshold import Keep
from curate.models import shipped
from curate.stage import Stats, decide
from curate.stages.classify import Classify, ClassifyParams, ClassifyPercentile

TOXICITY_MODEL = "toxicity.ftz"
REMOVED = "toxic_sentences_removed"
EMPTIED = "toxic_all_sentences"


class ToxicityParams(ClassifyParams):
    model: str | None = Field(None, description="fastText model path; default: the shipped toxicity model.")
    label: str | None = Field("toxic", description="The label scored and decided on.")
    column: str | None = Field("toxicity_score", description="Column for P(label).")
    level: Literal["sentence", "document"] = Field(
        "sentence", description="sentence: remove sentences scoring >= threshold from the text (Dolma); "
                                "document: drop or annotate whole documents.")
    threshold: float | None = Field(0.4, description="Cut on P(toxic): sentences (or documents) at or above it "
                                                     "are removed (tau).")
    keep: Keep = Field("below", description="below: keep score < cut; above: keep score >= cut (inverse filter; "
                                            "document level only).")
    reason: str = Field("toxic", description="Drop reason of failing documents (document level).")

    @model_validator(mode="after")
    def _sentence_level(self) -> ToxicityParams:
        if self.level == "sentence":
            if self.percentile is not None:
                raise ValueError("a percentile needs level: document (sentences are cut at an absolute threshold)")
            if self.threshold is None:
                raise ValueError("level: sentence needs a threshold (tau)")
            if self.keep != "below":
                raise ValueError("level: sentence removes toxic sentences (keep: below); use level: document for "
                                 "an inverse filter")
        return self

    def model_path(self) -> str:
        return self.model or shipped(TOXICITY_MODEL)


class ToxicityPercentile(ClassifyPercentile):
    name = "toxicity"
    Params = ToxicityParams


class Toxicity(Classify):
    """Remove toxic sentences (default) or documents, scored by the shipped toxicity model."""

    name = "toxicity"
    Params = ToxicityParams
    percentile_form = ToxicityPercentile

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        if self.params.level == "document":
            return super().process_batch(batch)
        return self._by_sentence(batch)

    def _by_sentence(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        p = self.params
        texts = batch.column("text").to_pylist()
        spans = [sentence_spans(text) if text else [] for text in texts]
        counts = np.fromiter((len(doc) for doc in spans), dtype=np.int64, count=len(spans))
        blank = counts == 0
        # a document without sentences (empty) is scored whole: the model's prior
        flat = [span for doc in spans for span in doc] + ["" for _ in range(int(blank.sum()))]
        scores = self.score(flat)[self.score_column]  # type: ignore[index]
        sentence_scores, blank_scores = scores[: len(flat) - int(blank.sum())], scores[len(flat) - int(blank.sum()):]
        toxic = sentence_scores >= p.threshold  # type: ignore[operator]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        has = ~blank
        doc_scores = np.zeros(len(texts), np.float32)
        removed = np.zeros(len(texts), np.int64)
        if has.any():
            doc_scores[has] = np.maximum.reduceat(sentence_scores, starts[has])
            removed[has] = np.add.reduceat(toxic.astype(np.int64), starts[has])
        doc_scores[blank] = blank_scores
        emptied = (removed > 0) & (removed == counts)
        new_texts: list[Any] = list(texts)
        if p.mode == "drop":
            for i in np.flatnonzero((removed > 0) & ~emptied):
                lo = starts[i]
                kept = "".join(span for span, bad in zip(spans[i], toxic[lo:lo + counts[i]]) if not bad).strip()
                if kept:
                    new_texts[i] = kept
                else:  # only whitespace was left
                    emptied[i] = True
            batch = batch.set_column(batch.schema.get_field_index("text"), "text", pa.array(new_texts, pa.string()))
        batch = self.with_scores(batch, {self.score_column: doc_scores})
        batch = batch.append_column(REMOVED, pa.array(removed, pa.int64()))
        # emptied documents keep their original text; in annotate mode nothing is removed, the reason names them
        why = np.full(len(texts), None, dtype=object)
        why[emptied] = [f"all {r} sentences scored >= {p.threshold}" for r in removed[emptied]]
        batch = decide(self.name, batch, p.mode, emptied, EMPTIED, detail=pa.array(why, pa.string()))
        stats: Stats = {"scored": len(texts), "score_sum": float(doc_scores.astype(np.float64).sum()),
                        "sentences": int(counts.sum()), "sentences_removed": int(removed.sum()),
                        "documents_changed": int((removed > 0).sum()), "documents_emptied": int(emptied.sum())}
        return batch, stats

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        stats = super().summarize(stats)
        if stats.get("sentences"):
            stats = {**stats, "sentences_removed_share": round(stats["sentences_removed"] / stats["sentences"], 6)}
        return stats
