"""The ``entigraph`` stage's parameters."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.documents import MAX_CHILDREN
from curate.lm import LMConfig, SamplingParams
from curate.stage import StageParams


class CallSettings(BaseModel):
    """Sampling for one kind of call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(0.7, ge=0, description="Sampling temperature (0 = greedy).")
    max_tokens: int = Field(320, gt=0, description="Most new tokens per call.")
    top_p: float = Field(0.95, gt=0, le=1, description="Nucleus sampling mass.")
    repeat_penalty: float = Field(1.15, gt=0, description="Repetition penalty (small models loop without one).")

    def sampling(self, seed: int, max_tokens: int | None = None, temperature: float | None = None
                 ) -> SamplingParams:
        return SamplingParams(max_tokens=max_tokens or self.max_tokens,
                              temperature=self.temperature if temperature is None else temperature,
                              top_p=self.top_p, repeat_penalty=self.repeat_penalty, seed=seed)


class EntiGraphParams(StageParams):
    lm: LMConfig = Field(default_factory=LMConfig, description="The model and backend (see curate.lm.LMConfig).")
    emit: Literal["synthetic", "both"] = Field(
        "synthetic", description="synthetic: only the synthetic rows leave the stage (the sources are dropped as "
                                 "entigraph_source); both: the source documents stay, synthetic rows follow each.")
    max_documents: int | None = Field(None, ge=0, description="Expand at most this many documents (a deterministic "
                                                              "subset); the others pass through (emit: both) or are "
                                                              "dropped as entigraph_unselected (emit: synthetic).")
    sample_seed: int = Field(0, description="Seed of the deterministic subset.")
    seed: int = Field(0, description="Seed of the pair and triple sampling.")
    max_entities: int = Field(10, ge=2, le=64, description="Most entities kept per document, in the model's order.")
    min_listed: int = Field(4, ge=0, description="Constrained extraction lists at least this many names (names not "
                                                 "in the document are then removed): small models stop too early.")
    max_entity_chars: int = Field(60, gt=0, description="Longer entity strings are discarded (they are sentences).")
    require_in_text: bool = Field(True, description="Keep only entities that occur in the document (case-"
                                                    "insensitively): small models invent names.")
    summary: bool = Field(True, description="Emit the extraction's summary as a synthetic row (kind summary).")
    max_pairs: int = Field(8, ge=0, description="Most entity pairs per document, sampled with `seed`.")
    max_triples: int = Field(4, ge=0, description="Most entity triples per document, after the pairs.")
    token_budget: int | None = Field(
        None, gt=0, description="Synthetic tokens for the whole run, shared out over documents in proportion to "
                                "their words (deterministic whatever the workers); none: no limit.")
    min_call_tokens: int = Field(32, gt=0, description="No call is started with fewer tokens of budget left.")
    doc_tokens: int = Field(1024, gt=0, description="Prompts show the document cut to this many model tokens.")
    retries: int = Field(2, ge=0, description="Extra extraction attempts when the answer does not parse or names "
                                              "no entity (bounded: 1 + retries calls per document).")
    retry_temperature: float = Field(0.7, ge=0, description="Temperature of the extraction retries.")
    constrained: bool = Field(True, description="Constrain the extraction to the JSON schema where the backend "
                                                "can (llama.cpp grammar, OpenAI response_format, vLLM guided).")
    extract: CallSettings = Field(
        default_factory=lambda: CallSettings(temperature=0.0, max_tokens=256),
        description="Sampling of the extraction call (greedy by default).")
    pair: CallSettings = Field(default_factory=CallSettings, description="Sampling of the pair calls.")
    triple: CallSettings = Field(default_factory=CallSettings, description="Sampling of the triple calls.")
    num_cpus: float | None = Field(None, gt=0, description="CPUs per model actor; default: a whole node's for "
                                                           "llamacpp, 1 for other backends.")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per model actor; default 1 for vllm, else 0.")
    concurrency: int | None = Field(None, gt=0, description="Model actors; default: as many as fit.")

    @model_validator(mode="after")
    def _fits(self) -> EntiGraphParams:
        if 1 + self.max_pairs + self.max_triples > MAX_CHILDREN:
            raise ValueError(f"1 + max_pairs + max_triples must be at most {MAX_CHILDREN} (rows per document)")
        return self
