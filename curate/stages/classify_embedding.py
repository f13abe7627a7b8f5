"""``classify_embedding``: score documents with a linear head on their embeddings; drop or annotate.

The ``classify`` stage for linear-head models (``.npz``, see
``curate.classify.linear_head``): it reads the embedding column an ``embed``
stage wrote earlier in the pipeline, so any number of heads cost one embedding
pass. Embeddings carry meaning rather than a source's words, so such heads
transfer across sources better than bigram models. The default head is the
shipped toxicity head; pass your own (``curate train-classifier``) as
``model``. Absolute or percentile thresholds, ``keep``, ``mode`` and
``languages`` work as in ``classify``.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, model_validator

from curate.classify.fasttext_model import ModelFileError
from curate.classify.threshold import Keep
from curate.models import shipped
from curate.stages.classify import Classify, ClassifyParams, is_head

DEFAULT_HEAD = "toxicity_minilm.npz"


class ClassifyEmbeddingParams(ClassifyParams):
    model: str | None = Field(None, description="Linear-head file (.npz); default: the shipped toxicity head.")
    label: str | None = Field(None, description="The label scored and decided on; default: the head's positive "
                                                "label.")
    column: str | None = Field("embedding_score", description="Column for P(label).")
    keep: Keep = Field("below", description="below: keep score < cut; above: keep score >= cut.")
    reason: str = Field("embedding_classifier", description="Drop reason of failing documents.")

    @model_validator(mode="before")
    @classmethod
    def _positive_label(cls, data: Any) -> Any:
        """Without ``label``, the head's positive label (its second)."""
        if isinstance(data, dict) and data.get("label") is None:
            from curate.classify.linear_head import load_head

            path = str(data.get("model") or shipped(DEFAULT_HEAD))
            if is_head(path) and os.path.isfile(path):  # else the model check names the problem
                try:
                    data = {**data, "label": load_head(path).labels[1]}
                except ModelFileError:
                    pass
        return data

    def model_path(self) -> str:
        path = self.model or shipped(DEFAULT_HEAD)
        if not is_head(path):
            raise ValueError(f"classify_embedding scores embeddings with a linear head (.npz), not {path}; use "
                             "classify for fastText models")
        return path


class ClassifyEmbedding(Classify):
    """Score every document's embedding with a linear head; with a threshold, drop or annotate."""

    name = "classify_embedding"
    Params = ClassifyEmbeddingParams
