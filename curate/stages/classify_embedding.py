"""``classify_embedding``: score documents with a linear head on MiniLM sentence embeddings; drop or annotate.

The second classifier kind (see ``curate.classify.linear_head``): slower than
fastText (a transformer runs on each document's first ``max_tokens`` tokens),
but its features are meanings, not a source's words. The default head is the
shipped toxicity head (``curate/models/toxicity_minilm.npz``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.classify.linear_head import load_head
from curate.classify.threshold import Keep, decide_by_score
from curate.models import shipped
from curate.stage import FilterParams, ModelStage, Stats

DEFAULT_HEAD = "toxicity_minilm.npz"


class ClassifyEmbeddingParams(FilterParams):
    model: str | None = Field(None, description="Linear-head file (.npz); default: the shipped toxicity head.")
    column: str = Field("embedding_score", description="Column for P(positive label of the head).")
    threshold: float | None = Field(None, description="Absolute cut on the score (null: annotate scores only).")
    keep: Keep = Field("below", description="below: keep score < cut; above: keep score >= cut.")
    reason: str = Field("embedding_classifier", description="Drop reason of failing documents.")
    max_tokens: int = Field(128, ge=2, description="Tokens of each document embedded.")
    num_cpus: float = Field(1.0, gt=0, description="CPUs per actor.")
    concurrency: int | None = Field(None, ge=1, description="Actors (default: as many as fit).")

    @model_validator(mode="after")
    def _head_loads(self) -> ClassifyEmbeddingParams:
        load_head(self.model_path())  # a missing or foreign file stops the run before any data is read
        return self

    def model_path(self) -> str:
        return self.model or shipped(DEFAULT_HEAD)


class ClassifyEmbedding(ModelStage):
    """Score every document with a linear head on sentence embeddings; with ``threshold``, drop or annotate."""

    name = "classify_embedding"
    Params = ClassifyEmbeddingParams
    batch_size: ClassVar[int] = 64

    def setup(self) -> None:
        from curate.icp.embed import MiniLMEmbedder

        self.head = load_head(self.params.model_path())
        self.embedder = MiniLMEmbedder(max_tokens=self.params.max_tokens, threads=1)

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        if not hasattr(self, "embedder"):
            self.setup()
        p = self.params
        texts = [t or "" for t in batch.column("text").to_pylist()]
        scores = self.head.score(self.embedder.embed(texts))
        batch = batch.append_column(p.column, pa.array(scores, pa.float32()))
        stats: Stats = {"scored": len(texts), "score_sum": float(scores.astype(np.float64).sum())}
        if p.threshold is not None:
            batch, stats["failed"] = decide_by_score(self.name, batch, p.mode, scores, p.column, p.threshold, p.keep,
                                                     p.reason)
        return batch, stats
