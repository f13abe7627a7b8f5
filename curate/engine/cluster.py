"""What the Ray cluster has, and how much of a stage's work fits on it.

Ray never refuses work: a task that asks for more than any node has waits
until it appears, and on a fixed cluster that is forever. So before a stage's
work is submitted, :func:`check_fits` asks that some alive node have the CPUs
and GPUs one worker asks for, and :func:`pool_size` counts how many workers of
that size the nodes hold. :func:`unplaceable` tells work that cannot start
from work that waits behind workers of its own size; the stall checks
(:mod:`curate.engine.stall`) ask it while waiting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from curate.errors import ResourceError

_EPS = 1e-9


@dataclass(frozen=True)
class Node:
    """One alive node: its total CPUs and GPUs, and (when known) how many are free now."""

    node_id: str
    address: str
    cpus: float
    gpus: float
    free_cpus: float | None = None
    free_gpus: float | None = None

    def holds(self, num_cpus: float, num_gpus: float) -> bool:
        """Whether one worker of this size fits the node's totals."""
        return self.cpus + _EPS >= num_cpus and self.gpus + _EPS >= num_gpus

    def blocks(self, num_cpus: float, num_gpus: float) -> bool:
        """Whether the node could hold such a worker but has neither room for one nor one's worth in use."""
        if self.free_cpus is None or self.free_gpus is None or not self.holds(num_cpus, num_gpus):
            return False
        room = self.free_cpus + _EPS >= num_cpus and self.free_gpus + _EPS >= num_gpus
        in_use = (self.cpus - self.free_cpus) + _EPS >= num_cpus and (self.gpus - self.free_gpus) + _EPS >= num_gpus
        return not room and not in_use


# ---------------------------------------------------------------- what the cluster has


def nodes(with_free: bool = False) -> list[Node]:
    """The alive nodes, with their free CPUs and GPUs when ``with_free``."""
    import ray

    free = _free_per_node() if with_free else None
    result = []
    for info in ray.nodes():
        if not info.get("Alive"):
            continue
        resources = info.get("Resources", {})
        node_free = free.get(info["NodeID"], {}) if free is not None else None
        result.append(Node(
            node_id=info["NodeID"], address=info.get("NodeManagerAddress", "?"),
            cpus=float(resources.get("CPU", 0.0)), gpus=float(resources.get("GPU", 0.0)),
            free_cpus=None if node_free is None else float(node_free.get("CPU", 0.0)),
            free_gpus=None if node_free is None else float(node_free.get("GPU", 0.0)),
        ))
    return result


def _free_per_node() -> dict[str, dict[str, float]] | None:
    """Free resources by node id; ``None`` when this Ray cannot tell (resources at 0 are left out by Ray)."""
    try:
        from ray._private import state

        return state.available_resources_per_node()
    except Exception:
        return None


def cluster_resources() -> dict[str, Any]:
    """The alive nodes with their CPUs and GPUs, and the totals.

    ``{"nodes": [{"node_id", "address", "cpus", "gpus"}, ...], "alive_nodes": n,
    "cpus": total, "gpus": total}``.
    """
    alive = nodes()
    return {
        "nodes": [{"node_id": n.node_id, "address": n.address, "cpus": n.cpus, "gpus": n.gpus} for n in alive],
        "alive_nodes": len(alive),
        "cpus": sum(n.cpus for n in alive),
        "gpus": sum(n.gpus for n in alive),
    }


def describe(alive: Sequence[Node], free: bool = False) -> str:
    """``2 nodes: 10.0.0.1 (2 CPUs), 10.0.0.2 (8 CPUs, 1 GPU)``; with ``free``, what each has free too."""
    if not alive:
        return "no alive nodes"
    addresses = [n.address for n in alive]
    parts = []
    for n in alive:
        name = n.address if addresses.count(n.address) == 1 else f"{n.address}/{n.node_id[:6]}"
        if free and n.free_cpus is not None and n.free_gpus is not None:
            held = f"{_num(n.free_cpus)} of {_amount(n.cpus, 'CPU')} free"
            if n.gpus:
                held += f", {_num(n.free_gpus)} of {_amount(n.gpus, 'GPU')} free"
        else:
            held = _amount(n.cpus, "CPU") + (f", {_amount(n.gpus, 'GPU')}" if n.gpus else "")
        parts.append(f"{name} ({held})")
    return f"{_amount(len(alive), 'node')}: " + ", ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if abs(x - round(x)) < _EPS else f"{x:g}"


def _amount(x: float, unit: str) -> str:
    return f"{_num(x)} {unit}" + ("" if abs(x - 1) < _EPS else "s")


def describe_request(num_cpus: float, num_gpus: float) -> str:
    """``1 GPU and 2 CPUs``: what one worker asks for."""
    if num_gpus:
        return f"{_amount(num_gpus, 'GPU')} and {_amount(num_cpus, 'CPU')}"
    return _amount(num_cpus, "CPU")


# ---------------------------------------------------------------- what fits


def check_fits(stage_name: str, num_cpus: float, num_gpus: float = 0.0) -> None:
    """Raise :class:`ResourceError` unless some alive node has ``num_cpus`` CPUs and ``num_gpus`` GPUs in total.

    A worker runs on one node, so the cluster's sum does not count.
    """
    alive = nodes()
    if any(n.holds(num_cpus, num_gpus) for n in alive):
        return
    asked = f"stage {stage_name!r} asks for {describe_request(num_cpus, num_gpus)} per worker"
    if not alive:
        raise ResourceError(f"{asked}, but the cluster has no alive nodes")
    largest = max(alive, key=lambda n: (n.gpus, n.cpus) if num_gpus else (n.cpus, n.gpus))
    has = (f"{_amount(largest.gpus, 'GPU')} and {_amount(largest.cpus, 'CPU')}" if num_gpus
           else _amount(largest.cpus, "CPU"))
    raise ResourceError(f"{asked}, but the cluster's largest node has {has} ({describe(alive)}); "
                        f"{_hint(alive, num_cpus, num_gpus)}")


def _hint(alive: Sequence[Node], num_cpus: float, num_gpus: float) -> str:
    most_gpus = max(n.gpus for n in alive)
    if num_gpus and most_gpus + _EPS < num_gpus:
        return "lower num_gpus or add a GPU node" if most_gpus == 0 else \
            f"lower num_gpus or add a node with {_amount(num_gpus, 'GPU')}"
    if num_gpus:
        return f"lower num_cpus or add a GPU node with {_amount(num_cpus, 'CPU')}"
    return f"lower num_cpus or add a node with {_amount(num_cpus, 'CPU')}"


def node_cpus() -> float:
    """CPUs of the smallest alive node (a worker that takes a whole node fits any node); this machine's without Ray."""
    import os

    import ray

    if ray.is_initialized():
        alive = [n.cpus for n in nodes() if n.cpus > 0]
        if alive:
            return min(alive)
    return float(os.cpu_count() or 1)


def assigned_cpus() -> int:
    """CPUs Ray gave the calling worker (an actor's threads), at least 1; this machine's outside Ray."""
    import os

    import ray

    if ray.is_initialized():
        try:
            cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
            if cpus:
                return max(1, math.floor(cpus + _EPS))
        except Exception:  # the driver, or a Ray without the call
            pass
    return max(1, os.cpu_count() or 1)


def pool_size(num_cpus: float, num_gpus: float, requested: int | None) -> int:
    """``requested`` (at least 1), else how many workers of this size fit on the alive nodes' totals (at least 1).

    Workers are counted node by node: two nodes of 1.5 CPUs hold two 1-CPU workers, not three.
    """
    if requested is not None:
        if requested < 1:
            raise ValueError(f"an actor pool needs at least 1 worker, not {requested}")
        return int(requested)
    return max(1, sum(_workers_on(n, num_cpus, num_gpus) for n in nodes()))


def _workers_on(node: Node, num_cpus: float, num_gpus: float) -> int:
    counts = [math.floor(have / need + _EPS) for have, need in ((node.cpus, num_cpus), (node.gpus, num_gpus)) if need > 0]
    if not counts:  # a worker that asks for nothing: one per CPU
        return int(node.cpus)
    return max(0, min(counts))


def unplaceable(num_cpus: float, num_gpus: float, alive: Sequence[Node]) -> bool:
    """Whether a worker of this size can neither start now nor be waiting behind one of its size.

    True when no node has room for it and no node has that much in use; False
    when free resources are unknown.
    """
    if not alive or any(n.free_cpus is None for n in alive):
        return False
    if not any(n.holds(num_cpus, num_gpus) for n in alive):
        return True
    return all(n.blocks(num_cpus, num_gpus) or not n.holds(num_cpus, num_gpus) for n in alive)
