"""``profanity``: offensive language (swearing, slurs, insults), scored apart from hate.

The ``toxicity`` stage's machinery with the shipped fastText model trained on
tweets labelled offensive or hateful against neither (Davidson et al.): it
recognises a vocabulary of offence, not whom a text attacks, so it is the
profanity score, and ``toxicity`` (identity-directed hate) is the other. Column
``profanity_score``; ``level: sentence`` (default) removes sentences at or
above ``threshold`` (Dolma's method), ``level: document`` drops or annotates
whole documents. Many pipelines keep profanity and annotate it only
(``mode: annotate``).
"""

from __future__ import annotations

from pydantic import Field

from curate.models import shipped
from curate.stages.toxicity import Toxicity, ToxicityParams, ToxicityPercentile

PROFANITY_MODEL = "toxicity.ftz"


class ProfanityParams(ToxicityParams):
    model: str | None = Field(None, description="fastText model path; default: the shipped offensive-language model "
                                                "(tweets).")
    column: str | None = Field("profanity_score", description="Column for P(label).")
    reason: str = Field("profane", description="Drop reason of failing documents (document level).")

    def model_path(self) -> str:
        return self.model or shipped(PROFANITY_MODEL)


class ProfanityPercentile(ToxicityPercentile):
    name = "profanity"
    Params = ProfanityParams


class Profanity(Toxicity):
    """Remove (or annotate) offensive sentences or documents, scored by the shipped offensive-language model."""

    name = "profanity"
    Params = ProfanityParams
    percentile_form = ProfanityPercentile
    removed_column = "profane_sentences_removed"
    emptied_reason = "profane_all_sentences"
