"""The ``rewrite`` stage's parameters, with each preset's defaults and the checks of what it needs."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from curate.lm import LMConfig
from curate.rewriting import prompts
from curate.stage import StageParams

#: prox: share of GPU memory each of the two vLLM engines takes by default (both live in one actor on one GPU;
#: the 0.3B refining models need little beyond their key/value cache)
PROX_GPU_SHARE = 0.4
#: the most both engines may take together: vLLM checks at start-up that its share is free, and the CUDA
#: context of the first engine takes some memory outside its share
MAX_GPU_SHARE = 0.9



class RewriteParams(StageParams):
    lm: LMConfig = Field(default_factory=LMConfig, description="The model and backend (see curate.lm.LMConfig).")
    preset: Literal["blocks", "line_lm", "small", "instruct", "prox"] = Field(
        "blocks", description="blocks (default, no LM): a light classifier over line features removes boilerplate "
                              "blocks, block edges and runs between whole sentences, never cutting a sentence; "
                              "line_lm: SmolLM2 scores each line alone (small is its former name); instruct: a "
                              "general instruct model writes programs; prox: ProX's released refining models, "
                              "prompted as ProX does.")
    doc_lm: LMConfig | None = Field(None, description="Model of the document pass (default: lm); prox: "
                                                      "web-doc-refining-lm, required.")
    block_threshold: float | None = Field(
        None, ge=0, le=1, description="blocks preset: P(boilerplate) from which a run is removed, for every "
                                      "document; default: the values fitted with the shipped classifier, one for "
                                      "web pages converted to text and one for other text "
                                      "(benchmarks/rewrite_eval.py).")
    corpus_repeats: bool = Field(
        True, description="blocks preset: count, in a pass over the whole input before rewriting, in how many "
                          "documents each line occurs (site chrome repeats from page to page); off: count within "
                          "each batch only (cheaper, removes less).")
    prox_chat_template: str = Field(
        prompts.PROX_CHAT_TEMPLATE, description="prox: the prompt around {system} and {user} (Llama-2 chat, as the "
                                                "released models were trained; the tokenizer adds BOS).")
    prox_system: str = Field(prompts.PROX_SYSTEM, description="prox: the system prompt.")
    document_level: bool = Field(True, description="Run the drop_doc()/keep_doc() pass.")
    chunk_level: bool = Field(True, description="Run the line-editing pass.")
    max_documents: int | None = Field(None, ge=0, description="Rewrite at most this many documents (a deterministic "
                                                              "subset); the others pass through unchanged.")
    sample_seed: int = Field(0, description="Seed of the deterministic subset.")
    chunk_tokens: int = Field(1500, gt=0, description="Most model tokens of numbered lines per chunk (ProX: 1500).")
    doc_tokens: int | None = Field(None, gt=0, description="Document-level pass: the document is cut to this many "
                                                           "tokens (default 1024; prox 1900, in a 2048 context).")
    max_line_chars: int = Field(300, gt=0, description="small preset: a line is shown cut to this many characters.")
    line_threshold: float = Field(
        0.67, ge=0, le=1, description="small preset: remove a line when P(boilerplate) reaches this; fitted with "
                                      "benchmarks/rewrite_quality.py --fit (content kept >= 95%).")
    drop_threshold: float = Field(
        0.95, ge=0, le=1, description="small preset: drop the document when P(drop) reaches this.")
    constrained: bool | None = Field(None, description="instruct/prox: constrain decoding with a grammar where "
                                                       "the backend supports one (default: on for instruct, off "
                                                       "for prox, whose models were not trained under one).")
    doc_max_new_tokens: int = Field(16, gt=0, description="instruct/prox: new tokens for the document decision.")
    chunk_max_new_tokens: int = Field(256, gt=0, description="instruct/prox: new tokens per chunk program.")
    temperature: float = Field(0.0, ge=0, description="instruct/prox: sampling temperature (0 = greedy, as ProX).")
    repeat_penalty: float = Field(1.0, gt=0, description="instruct/prox: repetition penalty.")
    max_errors: int = Field(2, ge=1, description="Keep the original text when a document has this many failed calls.")
    min_kept_fraction: float = Field(0.05, ge=0, le=1, description="Drop when at most this share of words remains.")
    min_kept_words: int = Field(10, ge=0, description="Drop when at most this many words remain.")
    min_words: int = Field(50, ge=0, description="Documents with fewer words are not line-edited: a 135M model "
                                                "takes the lines of short texts (quotes, notes) for boilerplate "
                                                "(prox: 0 by default, as ProX chunk-refines every document).")
    keep_original: bool = Field(False, description="Add the original text as column original_text, for audit.")
    num_cpus: float | None = Field(
        None, gt=0, description="CPUs Ray reserves per model actor; default: a whole node's for llamacpp (one "
                                "multi-threaded model per node), 1 for other backends. llamacpp runs as many threads "
                                "as the actor has CPUs unless lm.n_threads says otherwise.")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per model actor; default 1 for vllm, else 0.")
    concurrency: int | None = Field(None, gt=0, description="Model actors; default: as many as the cluster's "
                                                           "CPUs and GPUs hold (e.g. one per GPU).")
    batch_size: int = Field(16, gt=0, description="Documents per batch handed to an actor.")

    @model_validator(mode="before")
    @classmethod
    def _preset_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("preset") == "small":
            data["preset"] = "line_lm"
        if data.get("preset") == "prox":
            data.setdefault("min_words", 0)  # ProX chunk-refines every surviving document
            # the released refining models have a 2,048-token context; with both engines in one actor on one
            # GPU, each takes PROX_GPU_SHARE of its memory (vLLM refuses to start one without its share free)
            both = data.get("doc_lm") is not None and data.get("document_level", True)
            for name in ("lm", "doc_lm"):
                config = data.get(name, {} if name == "lm" else None)
                if config is None:
                    continue
                given = set(config) if isinstance(config, dict) else config.model_fields_set
                update: dict[str, Any] = {} if "max_model_len" in given else {"max_model_len": 2048}
                if both and "gpu_memory_utilization" not in given:
                    update["gpu_memory_utilization"] = PROX_GPU_SHARE
                data[name] = {**config, **update} if isinstance(config, dict) else config.model_copy(update=update)
        return data

    @model_validator(mode="after")
    def _prox_needs_both_models(self) -> RewriteParams:
        if self.preset != "prox" or not self.document_level:
            return self
        if self.doc_lm is None or self.doc_lm.model == self.lm.model:
            raise ValueError(
                "preset prox needs doc_lm, ProX's document model, apart from lm, its chunk model: set e.g. "
                "doc_lm: {backend: vllm, model: /models/web-doc-refining-lm} and lm: {backend: vllm, model: "
                "/models/web-chunk-refining-lm} (the chunk model answers with chunk programs, so it never drops "
                "a document), or document_level: false to skip the document pass")
        if self.lm.backend == self.doc_lm.backend == "vllm" and \
                self.lm.gpu_memory_utilization + self.doc_lm.gpu_memory_utilization > MAX_GPU_SHARE:
            raise ValueError(
                f"preset prox loads both vLLM engines on one GPU: lm.gpu_memory_utilization "
                f"({self.lm.gpu_memory_utilization}) plus doc_lm.gpu_memory_utilization "
                f"({self.doc_lm.gpu_memory_utilization}) must be at most {MAX_GPU_SHARE}; leave both unset "
                f"({PROX_GPU_SHARE} each) or lower them")
        return self

    @property
    def doc_budget(self) -> int:
        return self.doc_tokens or (1900 if self.preset == "prox" else 1024)

    @property
    def grammar(self) -> bool:
        return self.constrained if self.constrained is not None else self.preset != "prox"

    @property
    def needs_lm(self) -> bool:
        return self.preset != "blocks"
