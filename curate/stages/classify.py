"""``classify``: score documents with any fastText model; drop or annotate by an absolute or percentile threshold.

Score, then decide. Each document gets the probability of the chosen label
(``column``) or of every label (``<prefix><label>`` columns). With an absolute
``threshold`` the stage decides document by document: a map stage. A
``percentile`` needs every score first, so the stage then runs as two steps
(:meth:`Classify.decompose`): this map stage writes the scores, and a global
step (:class:`~curate.stages.percentile_cut.PercentileCut`) cuts at the
percentile of all of them, reading only the scores, never the texts.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.classify.fasttext_model import load_model, model_labels, predict_scores
from curate.classify.linear_head import LinearHead, load_head
from curate.classify.threshold import decide_by_score
from curate.stage import MapStage, Stage, Stats
from curate.stages.classify_params import ClassifyParams, is_head
from curate.stages.embed import embedding_rows
from curate.stages.percentile_cut import PercentileCut, summarize_scores
from curate.tables import set_column

__all__ = ["Classify", "ClassifyParams", "is_head", "scope_stats"]


def cached_head(path: str) -> LinearHead:
    """The linear head at ``path``, loaded once per process (the cache key includes size and mtime)."""
    info = os.stat(path)
    return _head(os.path.realpath(path), info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=16)
def _head(path: str, size: int, mtime_ns: int) -> LinearHead:
    return load_head(path)


def scope_stats(rows: int, scope: np.ndarray | None) -> Stats:
    """``scored`` and, under a languages filter, ``skipped_language`` (documents of other languages)."""
    if scope is None:
        return {"scored": rows}
    return {"scored": int(scope.sum()), "skipped_language": rows - int(scope.sum())}


class Classify(MapStage[ClassifyParams]):
    """Score every document with a fastText model (or a linear head); drop or annotate by a threshold.

    With ``percentile``, the scores of the whole data set decide: see :meth:`decompose`.
    """

    name = "classify"
    Params = ClassifyParams
    batch_size: ClassVar[int] = 1024

    def decompose(self) -> list[Stage[Any]]:
        """Itself; with a percentile, itself (the scores) and then the cut over all scores (a global step)."""
        if self.params.percentile is None:
            return [self]
        return [self, PercentileCut(self.name, self.params, self.score_column)]

    def setup(self) -> None:
        self.labels()  # loads the model once per worker

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        scores, scope = self.score_batch(batch)
        batch = self.with_scores(batch, scores)
        stats = scope_stats(batch.num_rows, scope)
        if self.params.label is not None:
            stats["score_sum"] = float(np.nansum(scores[self.score_column].astype(np.float64)))
        if self.params.threshold is not None:  # an unscored document (NaN) never fails
            batch, stats["failed"] = self.decide_at(batch, self.params.threshold)
        return batch, stats

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        return summarize_scores(stats)


    @property
    def score_column(self) -> str:
        """The column the decision reads."""
        p = self.params
        return p.column or f"{p.prefix}{p.label}"

    def in_scope(self, batch: pa.Table) -> np.ndarray | None:
        """Which rows this stage scores under ``languages`` (None: every row)."""
        p = self.params
        if not p.languages:
            return None
        if p.language_column not in batch.column_names:
            raise ValueError(f"{self.name}: languages needs the column {p.language_column!r}; run the language "
                             "stage before this one (mode: annotate keeps every document)")
        column = batch.column(p.language_column).cast(pa.string())  # a dictionary or large string column too
        return np.asarray(pc.fill_null(pc.is_in(column, pa.array(p.languages, pa.string())), False))

    def score_batch(self, batch: pa.Table) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Score columns for the rows of ``batch`` in scope (NaN elsewhere), and the scope (None: every row).

        With a linear head, rows without an embedding (null) are out of scope too.
        """
        p = self.params
        scope = self.in_scope(batch)
        if p.uses_head:
            vectors, embedded = embedding_rows(batch, p.embedding_column, self.name)
            if not embedded.all():
                scope = embedded if scope is None else scope & embedded
            inputs: Any = vectors
        else:
            inputs = batch.column("text").to_pylist()
        if scope is None:
            return self.score(inputs), None
        rows = np.flatnonzero(scope)
        scored = self.score(inputs[rows] if p.uses_head else [inputs[i] for i in rows]) if len(rows) else {}
        out = {}
        for name in self.score_names():
            out[name] = np.full(batch.num_rows, np.nan, np.float32)
            if len(rows):
                out[name][rows] = scored[name]
        return out, scope

    def model_files(self) -> tuple[str, ...]:
        return (self.params.model_path(),)

    def labels(self) -> list[str]:
        path = self.params.model_path()
        return list(cached_head(path).labels) if is_head(path) else model_labels(load_model(path))

    def score_names(self) -> list[str]:
        """The score columns this stage writes."""
        p = self.params
        if p.column:
            return [p.column]
        return [f"{p.prefix}{label}" for label in self.labels()]

    def score(self, inputs: Any) -> dict[str, np.ndarray]:
        """Score columns for ``inputs`` (texts, or embedding rows for a linear head): P(label) under ``column``, or
        one column per label."""
        p = self.params
        path = p.model_path()
        if is_head(path):
            positive = cached_head(path).score(np.asarray(inputs, dtype=np.float32))
            probabilities = np.stack([1.0 - positive, positive], axis=1).astype(np.float32)
        else:
            texts = [t[: p.max_chars] if t else t for t in inputs] if p.max_chars else inputs
            probabilities = predict_scores(load_model(path), texts)
        labels = self.labels()
        if p.column:
            return {p.column: probabilities[:, labels.index(p.label)]}
        return {f"{p.prefix}{label}": probabilities[:, j] for j, label in enumerate(labels)}

    def with_scores(self, batch: pa.Table, scores: dict[str, np.ndarray]) -> pa.Table:
        """``batch`` with the score columns; NaN (a document out of scope) is written as null."""
        for name, values in scores.items():
            batch = set_column(batch, name, pa.array(values, pa.float32(), from_pandas=True))
        return batch

    def decide_at(self, batch: pa.Table, cut: float) -> tuple[pa.Table, int]:
        """Drop or annotate the rows of ``batch`` whose score fails ``cut``; returns the batch and how many."""
        p = self.params
        scores = batch.column(self.score_column).to_numpy()
        return decide_by_score(self.name, batch, p.mode, scores, self.score_column, cut, p.keep, p.reason)
