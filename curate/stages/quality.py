"""``quality``: the shipped fastText quality classifier (edited prose and documentation vs spam and noisy text).

The ``classify`` stage with defaults: column ``quality_score`` = P(hq), keep
documents scoring at or above the cut. See docs/classifiers.md for what the
model was trained on and what it is good (and not good) for.
"""

from __future__ import annotations

from pydantic import Field

from curate.classify.threshold import Keep
from curate.models import shipped
from curate.stages.classify import Classify, ClassifyParams, ClassifyPercentile

QUALITY_MODEL = "quality.ftz"


class QualityParams(ClassifyParams):
    model: str | None = Field(None, description="fastText model path; default: the shipped quality model.")
    label: str | None = Field("hq", description="The label scored and decided on.")
    column: str | None = Field("quality_score", description="Column for P(label).")
    threshold: float | None = Field(0.1, description="Absolute cut on quality_score (null: annotate scores only, "
                                                     "or use percentile).")
    keep: Keep = Field("above", description="above: keep score >= cut; below: keep score < cut (inverse filter).")
    reason: str = Field("low_quality", description="Drop reason of failing documents.")

    def model_path(self) -> str:
        return self.model or shipped(QUALITY_MODEL)


class QualityPercentile(ClassifyPercentile):
    name = "quality"
    Params = QualityParams


class Quality(Classify):
    """Score documents with the shipped quality model (``quality_score``); drop or annotate low scores."""

    name = "quality"
    Params = QualityParams
    percentile_form = QualityPercentile
