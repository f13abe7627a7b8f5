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
        spans = [sentence_spans(text or "") for text in texts]
        flat = [span for doc in spans for span in doc]
        scores = self.score(flat)[self.score_column] if flat else np.zeros(0, np.float32)  # type: ignore[index]
        bounds = np.cumsum([0] + [len(doc) for doc in spans])
        toxic = scores >= p.threshold  # type: ignore[operator]
        doc_scores = np.zeros(len(texts), np.float32)
        removed = np.zeros(len(texts), np.int64)
        new_texts: list[Any] = list(texts)
        emptied = np.zeros(len(texts), bool)
        for i, doc in enumerate(spans):
            lo, hi = bounds[i], bounds[i + 1]
            if hi == lo:
                doc_scores[i] = self.score([texts[i] or ""])[self.score_column][0]  # empty: the model's prior
                continue
            doc_scores[i] = scores[lo:hi].max()
            removed[i] = int(toxic[lo:hi].sum())
            if removed[i] and p.mode == "drop":
                kept = "".join(span for span, bad in zip(doc, toxic[lo:hi]) if not bad).strip()
                emptied[i] = not kept
                if kept:
                    new_texts[i] = kept
        batch = self.with_scores(batch, {self.score_column: doc_scores})
        batch = batch.append_column(REMOVED, pa.array(removed, pa.int64()))
        batch = batch.set_column(batch.schema.get_field_index("text"), "text", pa.array(new_texts, pa.string()))
        # at annotate level nothing is removed; a document that would be emptied is named in the reason column
        would_empty = emptied if p.mode == "drop" else np.array([r > 0 and r == len(s) for r, s in zip(removed, spans)])
        batch = decide(self.name, batch, p.mode, would_empty, EMPTIED,
                       detail=[f"all {r} sentences scored >= {p.threshold}" for r in removed])
        stats: Stats = {"scored": len(texts), "score_sum": float(doc_scores.astype(np.float64).sum()),
                        "sentences": len(flat), "sentences_removed": int(removed.sum()),
                        "documents_changed": int((removed > 0).sum()), "documents_emptied": int(would_empty.sum())}
        return batch, stats

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        stats = super().summarize(stats)
        if stats.get("sentences"):
            stats = {**stats, "sentences_removed_share": round(stats["sentences_removed"] / stats["sentences"], 6)}
        return stats
