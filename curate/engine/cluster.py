"""What the Ray cluster has, and failing with a clear error instead of waiting forever.

Ray never refuses work: a task that asks for more than any node has, or for
resources that something else holds, waits until they appear, and on a fixed
cluster that is forever. Two guards keep a run from hanging:

* :func:`check_fits` before submitting a stage's work: some alive node must
  have the CPUs and GPUs one worker asks for.
* A stall check while waiting (:func:`check_progress`, :func:`wait_with_deadline`
  for object refs, :class:`StallGuard` around Ray Data calls): when nothing has
  finished for a while and the work cannot be placed on any node, raise
  :class:`ResourceError` naming what was asked for and what the nodes have.

"Cannot be placed" means: no node has the request free, and no node even has
that much in use (so no worker of that size can be running there and about to
free it). A cluster busy with the stage's own workers is therefore never taken
for a stuck one, however long each worker takes; a cluster where small
holdings leave every node just short of a worker (Ray Data's shuffle
aggregators taking 0.25 CPU of each 1-CPU node, say) is.
"""

from __future__ import annotations

import ctypes
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from curate.engine.errors import unwrap
from curate.errors import InputError, ResourceError, StageError

# Seconds without any finished work after which a wait asks whether it can finish at all.
DEFAULT_STALL_SECONDS = 60.0
# Consecutive looks, this far apart, that must all find the work unplaceable before failing.
CONFIRM_LOOKS = 3
CONFIRM_INTERVAL = 1.0
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


def _request(num_cpus: float, num_gpus: float) -> str:
    if num_gpus:
        return f"{_amount(num_gpus, 'GPU')} and {_amount(num_cpus, 'CPU')}"
    return _amount(num_cpus, "CPU")


# ---------------------------------------------------------------- before submitting


def check_fits(stage_name: str, num_cpus: float, num_gpus: float = 0.0) -> None:
    """Raise :class:`ResourceError` unless some alive node has ``num_cpus`` CPUs and ``num_gpus`` GPUs in total.

    A worker runs on one node, so the cluster's sum does not count.
    """
    alive = nodes()
    if any(n.holds(num_cpus, num_gpus) for n in alive):
        return
    asked = f"stage {stage_name!r} asks for {_request(num_cpus, num_gpus)} per worker"
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


# ---------------------------------------------------------------- while waiting


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


def pending_requests() -> list[tuple[dict[str, float], int]]:
    """Resource shapes of tasks and actors that Ray has not placed yet, with counts (empty when unknown)."""
    try:
        import ray
        from ray.autoscaler.v2.sdk import get_cluster_status

        status = get_cluster_status(ray.get_runtime_context().gcs_address)
        return [(dict(request.bundle), int(request.count))
                for demand in status.resource_demands.ray_task_actor_demand
                for request in demand.bundles_by_count]
    except Exception:
        return []


def _stuck_requests(alive: Sequence[Node]) -> list[tuple[dict[str, float], int]]:
    return [(bundle, count) for bundle, count in pending_requests()
            if unplaceable(bundle.get("CPU", 0.0), bundle.get("GPU", 0.0), alive)]


def stall_error(stage_name: str, seconds: float, asked: str, alive: Sequence[Node]) -> ResourceError:
    """The error for work that has stalled on resources: ``asked`` says what waits, for what."""
    return ResourceError(
        f"stage {stage_name!r} made no progress for {seconds:.0f}s: {asked}, but no node can place one "
        f"({describe(alive, free=True)}); other work holds part of each node (see `ray status`): "
        "lower what the stage asks for, or use larger nodes")


def _asked_by_tasks(stuck: Sequence[tuple[dict[str, float], int]]) -> str:
    def one(bundle: dict[str, float], count: int) -> str:
        asked = _request(bundle.get("CPU", 0.0), bundle.get("GPU", 0.0))
        return f"1 Ray task waits for {asked}" if count == 1 else f"{count} Ray tasks wait for {asked} each"
    return "; ".join(one(bundle, count) for bundle, count in stuck)


def check_progress(stage_name: str, num_cpus: float, num_gpus: float = 0.0, stalled_for: float | None = None,
                   looks: int = CONFIRM_LOOKS, interval: float = CONFIRM_INTERVAL) -> None:
    """Called when nothing of a stage has finished for a while: raise :class:`ResourceError` if its
    workers (``num_cpus``, ``num_gpus`` each) cannot be placed; return if they may merely be slow.

    Stuck means unplaceable (see :func:`unplaceable`) at each of ``looks``
    looks, ``interval`` seconds apart.
    """
    check_fits(stage_name, num_cpus, num_gpus)
    alive: list[Node] = []
    for look in range(looks):
        if look:
            time.sleep(interval)
        alive = nodes(with_free=True)
        if not unplaceable(num_cpus, num_gpus, alive):
            return
    asked = f"its workers ask for {_request(num_cpus, num_gpus)} each"
    raise stall_error(stage_name, stalled_for or DEFAULT_STALL_SECONDS, asked, alive)


def wait_with_deadline(refs: Sequence[Any], stage_name: str, num_cpus: float = 1.0, num_gpus: float = 0.0,
                       stall_seconds: float = DEFAULT_STALL_SECONDS) -> list[Any]:
    """``ray.get(refs)``, but raise :class:`ResourceError` when nothing finishes for ``stall_seconds``
    and workers of this size cannot be placed (:func:`check_progress`). Slow work keeps being waited for.
    """
    import ray

    pending = list(refs)
    last_done = time.monotonic()
    while pending:
        timeout = max(0.0, last_done + stall_seconds - time.monotonic())
        done, pending = ray.wait(pending, num_returns=1, timeout=timeout, fetch_local=False)
        if not done:
            check_progress(stage_name, num_cpus, num_gpus, stalled_for=stall_seconds)
        last_done = time.monotonic()
    return ray.get(list(refs))


class _Stalled(BaseException):
    """Raised into the guarded thread by :class:`StallGuard`; a BaseException, so no ``except Exception`` eats it."""


class StallGuard:
    """Watches a blocking Ray Data call from a thread and fails it when its tasks stay unplaceable.

    ::

        with StallGuard("exact_dedup"):
            dataset.materialize()

    Every ``poll_seconds`` it asks Ray which tasks wait for resources. When
    some stay unplaceable (see :func:`unplaceable`) and nothing on the nodes
    changes for ``stall_seconds``, the guard raises into the guarded thread;
    Ray Data answers by shutting the execution down (its tasks and actors),
    and the ``with`` block raises :class:`ResourceError`. Ray reports pending
    tasks cluster-wide, so on a shared cluster another job's stuck tasks count
    too, but only while nothing else moves. The guarded thread must be running
    Python, as Ray Data's consumer loop is; for object refs use
    :func:`wait_with_deadline`.
    """

    def __init__(self, stage_name: str, stall_seconds: float = DEFAULT_STALL_SECONDS,
                 poll_seconds: float | None = None) -> None:
        self.stage_name = stage_name
        self.stall_seconds = stall_seconds
        self.poll_seconds = poll_seconds or min(5.0, max(0.5, stall_seconds / 6))
        self.error: ResourceError | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._target = 0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> StallGuard:
        self._target = threading.get_ident()
        self._thread = threading.Thread(target=self._watch, name=f"stall-guard-{self.stage_name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        stalled = exc_type is not None and issubclass(exc_type, _Stalled)
        try:
            with self._lock:
                self._stop.set()
                if self.error is not None and not stalled:
                    _set_async(self._target, None)  # the work finished first: take the raise back
        except _Stalled:
            stalled = True
        if self._thread is not None:
            self._thread.join()
        if stalled and self.error is not None:
            raise self.error from None
        return False

    def _watch(self) -> None:
        since: float | None = None
        seen: tuple[Any, ...] | None = None
        while not self._stop.wait(self.poll_seconds):
            try:
                alive = nodes(with_free=True)
                stuck = _stuck_requests(alive)
            except Exception:  # Ray unreachable for a moment: no verdict this time
                continue
            state = (tuple((n.node_id, round(n.free_cpus or 0, 3), round(n.free_gpus or 0, 3)) for n in alive),
                     tuple((tuple(sorted(b.items())), c) for b, c in stuck))
            if not stuck or state != seen:
                since, seen = (time.monotonic() if stuck else None), state
                continue
            waited = time.monotonic() - (since or 0.0)
            if waited >= self.stall_seconds:
                self._fire(stall_error(self.stage_name, waited, _asked_by_tasks(stuck), alive))
                return

    def _fire(self, error: ResourceError) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self.error = error
            _set_async(self._target, _Stalled)


def _set_async(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in thread ``thread_id`` at its next Python instruction (``None`` takes a pending one back)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None)


def execute(action: Callable[[], Any], stage_name: str) -> Any:
    """Run Ray work, turning Ray's wrapped errors into ours with the innermost message.

    The work is watched: when its tasks wait for resources no node can give
    them, it fails with a ResourceError instead of waiting forever.
    """
    try:
        with StallGuard(stage_name):
            return action()
    except (InputError, StageError):
        raise
    except Exception as exc:
        raise unwrap(exc, stage_name) from exc
