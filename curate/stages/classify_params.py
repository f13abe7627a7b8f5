"""The parameters of the classifier stages (``classify`` and those built on it): model, label, threshold."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from curate.classify.fasttext_model import load_model, model_labels
from curate.classify.linear_head import load_head
from curate.classify.threshold import Keep
from curate.stage import FilterParams


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
                                                                     "over the whole data set (a global step after "
                                                                     "scoring).")
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
