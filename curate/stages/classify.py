"""``classify``: score documents with any fastText model; drop or annotate by an absolute or percentile threshold.

Score, then decide. Each document gets the probability of the chosen label
(``column``) or of every label (``<prefix><label>`` columns). With an absolute
``threshold`` the stage decides document by document (a map stage). A
``percentile`` needs every score first, so such a stage runs as a global
stage: the scores are computed in the pass before it where possible (its
``features``), the cut is the percentile of all of them, and only scores and
drop marks are written, never the texts.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.classify.fasttext_model import load_model, model_labels, predict_scores
from curate.classify.linear_head import LinearHead, load_head
from curate.classify.threshold import Keep, decide_by_score, failing, percentile_cut
from curate.stage import (
    ORDER,
    FilterParams,
    GlobalResult,
    GlobalStage,
    MapStage,
    Stats,
    set_column,
)
from curate.stages.embed import embedding_rows


class ClassifyParams(FilterParams):
    model: str | None = Field(None, description="Path of a fastText model (.bin or .ftz; scores the text), e.g. "
                                                "your own DCLM or Dolma classifier, or of a linear head (.npz; scores "
                                                "the embedding column), e.g. one from `curate train-classifier`.")
    label: str | None = Field(None, description="The label scored and decided on (without __label__). Required "
                                                "with column, threshold or percentile.")
    column: str | None = Field(None, description="Write only P(label) to this column; without it, one column "
                                                 "per label, named <prefix><label>.")
    prefix: str = Field("score_", description="Prefix of the per-label score columns.")
    threshold: float | None = Field(None, description="Absolute cut on P(label).")
    percentile: float | None = Field(None, ge=0, le=100, description="Cut at this percentile (0-100) of P(label) "
                                                                     "over the whole data set (runs as a global stage).")
    keep: Keep = Field("above", description="above: keep score >= cut; below: keep score < cut (inverse filter).")
    reason: str = Field("classifier_score", description="Drop reason of failing documents.")
    max_chars: int | None = Field(None, ge=1, description="Score only the first max_chars characters (faster on "
                                                          "very long documents).")
    languages: list[str] | None = Field(
        None, min_length=1, description="Score and decide only documents whose language (the language stage's "
                                        "column, run it first) is one of these codes, e.g. [en] for a model "
                                        "trained on English; the others pass unscored (null score), never dropped "
                                        "here.")
    language_column: str = Field("language", description="The column holding each document's language code.")
    embedding_column: str = Field(
        "embedding", description="With a linear-head model (.npz): the column of document embeddings it scores, "
                                 "written by an embed stage earlier in the pipeline (same embedder as the head).")

    @model_validator(mode="before")
    @classmethod
    def _percentile_replaces_default_threshold(cls, data: Any) -> Any:
        """A percentile given without a threshold replaces the stage's default absolute threshold."""
        if isinstance(data, dict) and data.get("percentile") is not None and "threshold" not in data:
            data = {**data, "threshold": None}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ClassifyParams:
        if self.threshold is not None and self.percentile is not None:
            raise ValueError("give threshold (absolute) or percentile, not both")
        path = self.model_path()
        # a missing or damaged model stops the run before any data is read
        labels = list(load_head(path).labels) if is_head(path) else model_labels(load_model(path))
        if (self.column or self.deciding) and not self.label:
            raise ValueError("label is required with column, threshold or percentile (which label's score?)")
        if self.label is not None:
            if self.label not in labels:
                raise ValueError(f"label {self.label!r} is not a label of {path}; its labels: {', '.join(labels)}")
        return self

    @property
    def deciding(self) -> bool:
        return self.threshold is not None or self.percentile is not None

    def model_path(self) -> str:
        if self.model is None:
            raise ValueError("model is required: the path of a fastText model (.bin or .ftz) or of a linear head "
                             "on embeddings (.npz)")
        return self.model

    @property
    def uses_head(self) -> bool:
        """Whether the model is a linear head that scores the embedding column (else fastText on the text)."""
        return is_head(self.model_path())


def is_head(path: str) -> bool:
    return path.lower().endswith(".npz")


def cached_head(path: str) -> LinearHead:
    """The linear head at ``path``, loaded once per process (the cache key includes size and mtime)."""
    info = os.stat(path)
    return _head(os.path.realpath(path), info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=16)
def _head(path: str, size: int, mtime_ns: int) -> LinearHead:
    return load_head(path)


class Scorer:
    """Scoring shared by the map and the percentile (global) forms of a classifier stage."""

    params: ClassifyParams

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
            raise ValueError(f"{self.name}: languages needs the column {p.language_column!r}; run the language "  # type: ignore[attr-defined]
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
            vectors, embedded = embedding_rows(batch, p.embedding_column, self.name)  # type: ignore[attr-defined]
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
        return decide_by_score(self.name, batch, p.mode, scores, self.score_column, cut, p.keep, p.reason)  # type: ignore[attr-defined]


def scope_stats(rows: int, scope: np.ndarray | None) -> Stats:
    """``scored`` and, under a languages filter, ``skipped_language`` (documents of other languages)."""
    if scope is None:
        return {"scored": rows}
    return {"scored": int(scope.sum()), "skipped_language": rows - int(scope.sum())}


def summarize_scores(stats: Stats) -> Stats:
    """Adds the mean score and the share failing to summed batch statistics."""
    scored = stats.get("scored", 0)
    if scored and "score_sum" in stats:
        stats = {**stats, "mean_score": round(stats["score_sum"] / scored, 6)}
    if scored and "failed" in stats:
        stats = {**stats, "failed_share": round(stats["failed"] / scored, 6)}
    return stats


class Classify(Scorer, MapStage):
    """Score every document with a fastText model; with ``threshold``, drop (or annotate) those failing it.

    A ``percentile`` threshold makes the stage a global one (see the module's
    documentation); the parameters and columns are the same.
    """

    name = "classify"
    Params = ClassifyParams
    batch_size: ClassVar[int] = 1024
    #: The global form of this stage, used when a percentile is set.
    percentile_form: ClassVar[type[GlobalStage] | None] = None

    def __new__(cls, params: ClassifyParams | None = None, **kwargs: Any) -> Any:
        if params is None and not kwargs:  # unpickling
            return super().__new__(cls)
        resolved = params if params is not None else cls.Params(**kwargs)
        if resolved.percentile is not None and cls.percentile_form is not None:  # type: ignore[attr-defined]
            return cls.percentile_form(resolved)
        return super().__new__(cls)

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


FEATURE = "_score_"


class ClassifyPercentile(Scorer, GlobalStage):
    """The global form of a classifier stage: the cut is a percentile of every document's score."""

    name = "classify"
    Params = ClassifyParams
    columns: ClassVar[tuple[str, ...] | None] = (ORDER,)
    batch_size: ClassVar[int] = 1024

    def features(self, batch: pa.Table) -> dict[str, pa.Array]:
        scores, _ = self.score_batch(batch)
        return {FEATURE + name: pa.array(values, pa.float32(), from_pandas=True) for name, values in scores.items()}

    def score_table(self, batch: pa.Table) -> pa.Table:
        """``_order`` and the score columns of a batch of documents."""
        return self.with_scores(pa.table({ORDER: batch.column(ORDER)}), self.score_batch(batch)[0])

    def run(self, dataset: Any) -> GlobalResult:
        schema = dataset.schema()
        stored = [n for n in (schema.names if schema is not None else []) if n.startswith(FEATURE)]
        if stored:  # scored in the pass before this stage
            renames = {n: n[len(FEATURE):] for n in stored}
            scores = dataset.select_columns([ORDER, *stored]).map_batches(
                lambda b: b.rename_columns([renames.get(c, c) for c in b.column_names]), batch_format="pyarrow")
        else:
            scores = dataset.map_batches(self.score_table, batch_format="pyarrow", batch_size=self.batch_size)
        scores = scores.materialize()
        values = _collect(scores, self.score_column)
        cut = percentile_cut(values, self.params.percentile)  # type: ignore[arg-type]
        marks = scores.map_batches(self._marks, fn_kwargs={"cut": cut}, batch_format="pyarrow")
        failed = int(failing(values, cut, self.params.keep).sum())
        stats = {"scored": len(values), "score_sum": float(values.astype(np.float64).sum()), "failed": failed,
                 "cut": round(cut, 6)}
        if self.params.languages:
            stats["skipped_language"] = scores.count() - len(values)
        return GlobalResult(marks=marks, stats=stats)

    def _marks(self, batch: pa.Table, cut: float) -> pa.Table:
        return self.decide_at(batch, cut)[0]

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        return summarize_scores(stats)


def _collect(dataset: Any, column: str) -> np.ndarray:
    """The non-null values of ``column`` (documents out of a languages filter have none)."""
    import ray

    blocks = ray.get(dataset.select_columns([column]).to_arrow_refs())
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(pc.drop_null(pa.concat_tables(blocks).column(column)).to_numpy(), dtype=np.float32)


Classify.percentile_form = ClassifyPercentile
