"""``quality``: edited prose and documentation vs spam and noisy text, by the shipped quality head.

The ``classify`` stage with defaults: column ``quality_score`` = P(hq) from
``quality_minilm.npz``, a linear head on the all-MiniLM-L6-v2 vectors an
``embed`` stage writes; keep documents scoring at or above the cut (0.1).
``model: <path>/quality.ftz`` (shipped too) scores the text with fastText
instead, without an embedding pass. See docs/classifiers.md for what the
models were trained on, their left-out-source figures and limits.
"""

from __future__ import annotations

from pydantic import Field

from curate.classify.threshold import Keep
from curate.models import shipped
from curate.stages.classify import Classify, ClassifyParams

QUALITY_MODEL = "quality_minilm.npz"


class QualityParams(ClassifyParams):
    model: str | None = Field(None, description="A linear head (.npz, scores the embedding column of an embed stage) "
                                                "or a fastText model (.ftz/.bin, scores the text); default: the "
                                                "shipped quality head.")
    label: str | None = Field("hq", description="The label scored and decided on.")
    column: str | None = Field("quality_score", description="Column for P(label).")
    threshold: float | None = Field(0.1, description="Absolute cut on quality_score (null: annotate scores only, "
                                                     "or use percentile).")
    keep: Keep = Field("above", description="above: keep score >= cut; below: keep score < cut (inverse filter).")
    reason: str = Field("low_quality", description="Drop reason of failing documents.")

    def model_path(self) -> str:
        return self.model or shipped(QUALITY_MODEL)


class Quality(Classify):
    """Score documents with the shipped quality model (``quality_score``); drop or annotate low scores."""

    name = "quality"
    Params = QualityParams
