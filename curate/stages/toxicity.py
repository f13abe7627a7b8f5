"""``toxicity``: identity-directed hate, scored by default with the shipped hate head on the document embedding.

The default model is ``hate_minilm.npz``, a linear head on the all-MiniLM-L6-v2
vectors an ``embed`` stage writes (fitted on forum sentences, implicit hate
about 15 groups and hateful tweets, offensive-only tweets counted as not hate;
see docs/classifiers.md): column ``toxicity_score`` = P(hate), documents at or
above the head's stored cut (``threshold`` overrides it) dropped or annotated.
Offensive language without a target is the ``profanity`` stage's score.

With a fastText model (``.ftz``/``.bin``), ``level: sentence`` scores each
sentence and removes those scoring at or above ``threshold`` (tau, 0.4 as in
Dolma), recording how many were removed; a document left empty is dropped with
reason ``toxic_all_sentences`` and its original text. ``level: document``
decides on whole documents like ``classify`` (absolute or percentile cut, keep
below or above); the column then holds P(label) of the document, or at
sentence level of its most toxic sentence.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.classify.fasttext_model import ModelFileError, load_model, model_labels, predict_unique
from curate.classify.linear_head import load_head
from curate.classify.sentences import split_batch
from curate.classify.threshold import Keep
from curate.models import shipped
from curate.stage import Stats
from curate.stages.classify import Classify, ClassifyParams, is_head, scope_stats
from curate.tables import decide, set_column

TOXICITY_MODEL = "hate_minilm.npz"
REMOVED = "toxic_sentences_removed"
EMPTIED = "toxic_all_sentences"


class ToxicityParams(ClassifyParams):
    #: The shipped model used when ``model`` is not given.
    default_model: ClassVar[str] = TOXICITY_MODEL
    model: str | None = Field(None, description="A linear head (.npz, scores the embedding column of an embed stage) "
                                                "or a fastText model (.ftz/.bin, scores the text); default: the "
                                                "shipped hate head.")
    label: str | None = Field("hate", description="The label scored and decided on.")
    column: str | None = Field("toxicity_score", description="Column for P(label).")
    level: Literal["sentence", "document"] = Field(
        "document", description="document: drop or annotate whole documents; sentence (fastText models): remove "
                                "sentences scoring >= threshold from the text (Dolma).")
    threshold: float | None = Field(0.4, description="Cut on P(label): documents (or sentences) at or above it are "
                                                     "removed; default: the cut stored in a head file (the shipped "
                                                     "hate head's), else 0.4 (Dolma's tau).")
    keep: Keep = Field("below", description="below: keep score < cut; above: keep score >= cut (inverse filter; "
                                            "document level only).")
    reason: str = Field("toxic", description="Drop reason of failing documents (document level).")

    @model_validator(mode="before")
    @classmethod
    def _head_cut(cls, data: Any) -> Any:
        """Without ``threshold`` (or ``percentile``), a head file's stored cut, where it has one."""
        if not isinstance(data, dict) or "threshold" in data or data.get("percentile") is not None:
            return data
        path = str(data.get("model") or shipped(cls.default_model))
        if is_head(path) and os.path.isfile(path):
            try:
                cut = load_head(path).threshold
            except ModelFileError:  # the model check names the problem
                return data
            if cut is not None:
                data = {**data, "threshold": cut}
        return data

    @model_validator(mode="after")
    def _sentence_level(self) -> ToxicityParams:
        if self.level == "sentence":
            if self.uses_head:
                raise ValueError("level: sentence scores each sentence's text with a fastText model; a linear head "
                                 "(.npz) scores the document embedding: use level: document (or the profanity "
                                 "stage, which removes offensive sentences)")
            if self.percentile is not None:
                raise ValueError("a percentile needs level: document (sentences are cut at an absolute threshold)")
            if self.threshold is None:
                raise ValueError("level: sentence needs a threshold (tau)")
            if self.keep != "below":
                raise ValueError("level: sentence removes toxic sentences (keep: below); use level: document for "
                                 "an inverse filter")
        return self

    def model_path(self) -> str:
        return self.model or shipped(self.default_model)


class Toxicity(Classify):
    """Drop (or annotate) hateful documents, scored by the shipped hate head; or toxic sentences with fastText."""

    name = "toxicity"
    Params = ToxicityParams
    params: ToxicityParams
    #: Column counting each document's removed sentences, and the reason of a document left empty.
    removed_column: ClassVar[str] = REMOVED
    emptied_reason: ClassVar[str] = EMPTIED

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        if self.params.level == "document":
            return super().process_batch(batch)
        return self._by_sentence(batch)

    def _by_sentence(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        """Split the whole batch in Arrow, predict each distinct sentence once, reassemble with offsets."""
        p = self.params
        n = batch.num_rows
        text_column = batch.column("text")
        scope = self.in_scope(batch)
        if scope is not None:  # documents of other languages are not split, scored or changed
            text_column = pc.if_else(pa.array(scope), text_column, pa.scalar(None, text_column.type))
        sentences, rows = split_batch(text_column)
        counts = np.bincount(rows, minlength=n)
        blank = (counts == 0) & (scope if scope is not None else True)
        sentence_scores = self._score_sentences(sentences)
        assert p.threshold is not None  # required at sentence level (ToxicityParams)
        toxic = sentence_scores >= p.threshold
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        has = counts > 0
        doc_scores = np.zeros(n, np.float32)
        removed = np.zeros(n, np.int64)
        if has.any():
            doc_scores[has] = np.maximum.reduceat(sentence_scores, starts[has])
            removed[has] = np.add.reduceat(toxic.astype(np.int64), starts[has])
        if blank.any():  # a document without sentences (empty) is scored whole: the model's prior
            doc_scores[blank] = self._score_sentences(pa.array([""], pa.string()))[0]
        if scope is not None:
            doc_scores[~scope] = np.nan
        emptied = (removed > 0) & (removed == counts)
        if p.mode == "drop":
            batch = self._without_toxic(batch, sentences, rows, toxic, (removed > 0) & ~emptied, emptied)
        batch = self.with_scores(batch, {self.score_column: doc_scores})
        batch = set_column(batch, self.removed_column, pa.array(removed, pa.int64()))
        # emptied documents keep their original text; in annotate mode nothing is removed, the reason names them
        why = np.full(n, None, dtype=object)
        why[emptied] = [f"all {r} sentences scored >= {p.threshold}" for r in removed[emptied]]
        batch = decide(self.name, batch, p.mode, emptied, self.emptied_reason, detail=pa.array(why, pa.string()))
        stats = scope_stats(n, scope)
        stats.update({"score_sum": float(np.nansum(doc_scores.astype(np.float64))),
                      "sentences": int(counts.sum()), "sentences_removed": int(removed.sum()),
                      "documents_changed": int((removed > 0).sum()), "documents_emptied": int(emptied.sum())})
        return batch, stats

    def _score_sentences(self, sentences: pa.Array) -> np.ndarray:
        """P(label) of each sentence, as :meth:`score` computes it for a list of texts."""
        if self.params.max_chars:
            sentences = pc.utf8_slice_codeunits(sentences, 0, self.params.max_chars)
        model = load_model(self.params.model_path())
        return predict_unique(model, sentences)[:, model_labels(model).index(self.params.label)]

    @staticmethod
    def _without_toxic(batch: pa.Table, sentences: pa.Array, rows: np.ndarray, toxic: np.ndarray,
                       changed: np.ndarray, emptied: np.ndarray) -> pa.Table:
        """``batch`` with the toxic sentences cut out of the ``changed`` documents (only those are touched).

        A document left with only whitespace joins ``emptied`` (updated in place) and keeps its text.
        """
        kept = np.flatnonzero(changed[rows] & ~toxic)
        if not len(kept):
            return batch
        owners = rows[kept]
        pieces = sentences.take(pa.array(kept)).to_pylist()
        docs, first = np.unique(owners, return_index=True)
        bounds = np.append(first, len(owners)).tolist()
        texts = ["".join(pieces[a:b]).strip() for a, b in zip(bounds[:-1], bounds[1:])]
        empty = np.array([not t for t in texts], dtype=bool)
        emptied[docs[empty]] = True
        mask = np.zeros(batch.num_rows, dtype=bool)
        mask[docs[~empty]] = True
        if not mask.any():
            return batch
        index = batch.schema.get_field_index("text")
        column = batch.column(index).combine_chunks()
        values = pa.array([t for t in texts if t], column.type)
        return batch.set_column(index, "text", pc.replace_with_mask(column, pa.array(mask), values))

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        stats = super().summarize(stats)
        if stats.get("sentences"):
            stats = {**stats, "sentences_removed_share": round(stats["sentences_removed"] / stats["sentences"], 6)}
        return stats
