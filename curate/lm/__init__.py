"""LM backends behind one interface (see :mod:`curate.lm.base`).

``load_lm(LMConfig(backend="llamacpp"))`` loads the CPU default
(SmolLM2-135M-Instruct); ``openai`` talks to any OpenAI-compatible server;
``vllm`` runs offline batches on GPUs. Backends import their runtime only when
loaded, so a pipeline without LM stages never imports one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from curate.lm.base import (
    LM,
    Constraint,
    Generation,
    LMError,
    LMUnavailableError,
    Prompt,
    SamplingParams,
    UnsupportedConstraintError,
)

__all__ = [
    "LM", "Constraint", "Generation", "LMConfig", "LMError", "LMUnavailableError", "Prompt", "SamplingParams",
    "UnsupportedConstraintError", "load_lm",
]


class LMConfig(BaseModel):
    """Which model to load and how; shared by every LM stage."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    backend: Literal["llamacpp", "openai", "vllm"] = Field(
        "llamacpp", description="llamacpp (CPU, GGUF), openai (an OpenAI-compatible server) or vllm (offline, GPUs).")
    model: str = Field(
        "smollm2-135m-instruct",
        description="Model: the bundled SmolLM2-135M-Instruct by default; a GGUF path or Hugging Face id for llamacpp, "
                    "a local folder or Hugging Face id for vllm, the served model name for openai.")
    model_file: str | None = Field(None, description="llamacpp: GGUF file name inside a folder or hub repository.")
    n_ctx: int = Field(4096, gt=0, description="llamacpp: context length in tokens.")
    n_threads: int | None = Field(None, gt=0, description="llamacpp: CPU threads (default: the stage's num_cpus).")
    base_url: str = Field("http://127.0.0.1:8000/v1", description="openai: the server's base URL (ending in /v1).")
    api_key: str | None = Field(None, description="openai: bearer token, if the server wants one.")
    server: Literal["generic", "vllm", "sglang", "llamacpp"] = Field(
        "generic", description="openai: the server's dialect for constraints (grammar, regex, JSON schema).")
    request_concurrency: int = Field(8, gt=0, description="openai: requests in flight per actor.")
    timeout_s: float = Field(120.0, gt=0, description="openai: seconds per request before it is retried.")
    max_retries: int = Field(3, ge=0, description="openai: retries on connection errors, 429 and 5xx.")
    dtype: str = Field("auto", description="vllm: weight dtype.")
    max_model_len: int | None = Field(4096, description="vllm: context length.")
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1, description="vllm: share of GPU memory for the engine.")
    tensor_parallel_size: int = Field(1, gt=0, description="vllm: GPUs per engine.")
    seed: int = Field(0, description="Seed for the model's sampling.")


def load_lm(config: LMConfig, *, threads: int | None = None) -> LM:
    """Load the configured model."""
    if config.backend == "llamacpp":
        from curate.lm.llamacpp import LlamaCppLM

        return LlamaCppLM(config.model, model_file=config.model_file, n_ctx=config.n_ctx,
                          n_threads=config.n_threads or threads, seed=config.seed)
    if config.backend == "openai":
        from curate.lm.openai import OpenAILM

        return OpenAILM(config.model, base_url=config.base_url, api_key=config.api_key, server=config.server,
                        concurrency=config.request_concurrency, timeout_s=config.timeout_s,
                        max_retries=config.max_retries)
    from curate.lm.vllm import VLLMLM

    return VLLMLM(config.model, seed=config.seed, dtype=config.dtype, max_model_len=config.max_model_len,
                  gpu_memory_utilization=config.gpu_memory_utilization,
                  tensor_parallel_size=config.tensor_parallel_size)
