"""The ``entigraph`` stage's parameters, and the ``faithful`` profile's defaults."""

from __future__ import annotations

from typing import Any, Literal

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


#: ``profile: faithful``: the reference's settings (ZitongYang/Synthetic_Continued_Pretraining, data/entigraph.py,
#: inference/devapi.py: GPT-4-turbo at temperature 1.0 without an output cap, every entity, the whole article with
#: its title, every pair i<j in order and then the triples). Values given in the config win.
FAITHFUL_PAIRS = 64 * 63 // 2  # every pair of max_entities=64 entities
FAITHFUL: dict[str, Any] = {
    "require_in_text": False, "min_listed": 0, "max_entities": 64, "max_entity_chars": 200, "title": True,
    "doc_tokens": None, "all_pairs": True, "max_pairs": FAITHFUL_PAIRS, "max_triples": MAX_CHILDREN - 1 - FAITHFUL_PAIRS,
    "retries": 4, "retry_temperature": 1.0,
    "extract": {"temperature": 1.0, "top_p": 1.0, "repeat_penalty": 1.0, "max_tokens": 1024},
    "pair": {"temperature": 1.0, "top_p": 1.0, "repeat_penalty": 1.0, "max_tokens": 2048},
    "triple": {"temperature": 1.0, "top_p": 1.0, "repeat_penalty": 1.0, "max_tokens": 3072},
}


class EntiGraphParams(StageParams):
    profile: Literal["small", "faithful"] = Field(
        "small", description="small (default): settings and prompts for small models (SmolLM2-135M on a laptop); "
                             "faithful: as the paper's authors ran it (the whole document with its title, "
                             "concept entities, every pair before the triples, long relation texts at temperature "
                             "1.0, the reference's prompt structure); for strong models (docs/entigraph.md).")
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
    max_pairs: int = Field(8, ge=0, description="Most entity pairs per document, sampled with `seed` (all_pairs: "
                                                "the first ones in order).")
    all_pairs: bool = Field(False, description="Every pair i<j in the entities' order, before any triple, as the "
                                               "reference (up to max_pairs); off: a seeded sample.")
    title: bool = Field(False, description="Show the document's title in every prompt: the meta field 'title', "
                                           "else its first non-empty line (the reference's articles begin with "
                                           "their title, and its relation texts name it in every header).")
    max_triples: int = Field(4, ge=0, description="Most entity triples per document, after the pairs.")
    token_budget: int | None = Field(
        None, gt=0, description="Synthetic tokens for the whole run, shared out over documents in proportion to "
                                "their words (deterministic whatever the workers); none: no limit.")
    min_call_tokens: int = Field(32, gt=0, description="No call is started with fewer tokens of budget left.")
    doc_tokens: int | None = Field(1024, gt=0, description="Prompts show the document cut to this many model "
                                                           "tokens; none: as much as the context leaves (faithful).")
    context_tokens: int | None = Field(
        None, gt=0, description="The model's context in tokens, for doc_tokens: none (default: lm.max_model_len for "
                                "vllm, lm.n_ctx for llamacpp; set it for openai).")
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

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("profile") == "faithful":
            merged = {**FAITHFUL, **data}
            for kind in ("extract", "pair", "triple"):  # a kind's settings given in part keep the profile's others
                if isinstance(data.get(kind), dict):
                    merged[kind] = {**FAITHFUL[kind], **data[kind]}
            data = merged
        return data

    @model_validator(mode="after")
    def _fits(self) -> EntiGraphParams:
        if 1 + self.max_pairs + self.max_triples > MAX_CHILDREN:
            raise ValueError(f"1 + max_pairs + max_triples must be at most {MAX_CHILDREN} (rows per document)")
        if self.doc_tokens is None and self.context is None:
            raise ValueError("doc_tokens: none shows as much of the document as the model's context leaves: set "
                             "context_tokens to the served model's context (e.g. context_tokens: 32768), or "
                             "doc_tokens")
        return self

    @property
    def context(self) -> int | None:
        """The model's context in tokens, if known."""
        if self.context_tokens is not None:
            return self.context_tokens
        if self.lm.backend == "vllm":
            return self.lm.max_model_len
        return self.lm.n_ctx if self.lm.backend == "llamacpp" else None
