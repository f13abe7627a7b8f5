"""Interim cluster checks (replaced by the full module)."""

from __future__ import annotations


class ResourceError(Exception):
    pass


def check_fits(stage_name: str, num_cpus: float, num_gpus: float = 0.0) -> None:
    return None


def pool_size(num_cpus: float, num_gpus: float, requested: int | None) -> int:
    import ray

    if requested:
        return requested
    total = ray.cluster_resources()
    by_cpu = int(total.get("CPU", 1) // max(num_cpus, 1e-9))
    if num_gpus:
        by_cpu = min(by_cpu, int(total.get("GPU", 0) // num_gpus))
    return max(1, by_cpu)


def check_progress(stage_name: str, num_cpus: float, num_gpus: float) -> None:
    return None
