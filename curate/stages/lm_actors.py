"""Actor resources of the stages that load a language model."""

from __future__ import annotations

from curate.engine.cluster import node_cpus
from curate.lm import LMConfig
from curate.stage import Resources


def lm_resources(lm: LMConfig, num_cpus: float | None, num_gpus: float | None,
                 concurrency: int | None) -> Resources:
    """One model per actor; unset, CPUs default to a whole node's for llamacpp (one multi-threaded model per
    node), else 1, and GPUs to the tensor-parallel size for vllm, else none."""
    gpus = num_gpus if num_gpus is not None else (float(lm.tensor_parallel_size) if lm.backend == "vllm" else 0.0)
    cpus = num_cpus if num_cpus is not None else (node_cpus() if lm.backend == "llamacpp" else 1.0)
    return Resources(num_cpus=cpus, num_gpus=gpus, concurrency=concurrency)
