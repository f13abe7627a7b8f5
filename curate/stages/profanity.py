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

from typing import ClassVar, Literal

from pydantic import Field

from curate.stages.toxicity import Toxicity, ToxicityParams

PROFANITY_MODEL = "toxicity.ftz"


class ProfanityParams(ToxicityParams):
    default_model: ClassVar[str] = PROFANITY_MODEL
    model: str | None = Field(None, description="fastText model path; default: the shipped offensive-language model "
                                                "(tweets).")
    label: str | None = Field("toxic", description="The label scored and decided on.")
    level: Literal["sentence", "document"] = Field(
        "sentence", description="sentence: remove sentences scoring >= threshold from the text (Dolma); "
                                "document: drop or annotate whole documents.")
    threshold: float | None = Field(0.4, description="Cut on P(offensive): sentences (or documents) at or above it "
                                                     "are removed (tau, Dolma's 0.4).")
    column: str | None = Field("profanity_score", description="Column for P(label).")
    reason: str = Field("profane", description="Drop reason of failing documents (document level).")


class Profanity(Toxicity):
    """Remove (or annotate) offensive sentences or documents, scored by the shipped offensive-language model."""

    name = "profanity"
    Params = ProfanityParams
    removed_column = "profane_sentences_removed"
    emptied_reason = "profane_all_sentences"
