"""Failing with a clear error instead of waiting forever when work cannot be placed.

A stall check runs while a stage's work is waited for (:func:`check_progress`,
:func:`wait_with_deadline` for object refs, :class:`StallGuard` around Ray Data
calls): when nothing has finished for a while and the work cannot be placed on
any node, it raises :class:`ResourceError` naming what was asked for and what
the nodes have.

"Cannot be placed" means: no node has the request free, and no node even has
that much in use (so no worker of that size can be running there and about to
free it; see :func:`curate.engine.cluster.unplaceable`). A cluster busy with
the stage's own workers is therefore never taken for a stuck one, however long
each worker takes; a cluster where small holdings leave every node just short
of a worker (Ray Data's shuffle aggregators taking 0.25 CPU of each 1-CPU
node, say) is.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from curate.engine import cluster
from curate.engine.cluster import Node, describe_request
from curate.engine.errors import unwrap
from curate.errors import ResourceError

# Seconds without any finished work after which a wait asks whether it can finish at all.
DEFAULT_STALL_SECONDS = 60.0
# Consecutive looks, this far apart, that must all find the work unplaceable before failing.
CONFIRM_LOOKS = 3
CONFIRM_INTERVAL = 1.0


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
            if cluster.unplaceable(bundle.get("CPU", 0.0), bundle.get("GPU", 0.0), alive)]


def stall_error(stage_name: str, seconds: float, asked: str, alive: Sequence[Node]) -> ResourceError:
    """The error for work that has stalled on resources: ``asked`` says what waits, for what."""
    return ResourceError(
        f"stage {stage_name!r} made no progress for {seconds:.0f}s: {asked}, but no node can place one "
        f"({cluster.describe(alive, free=True)}); other work holds part of each node (see `ray status`): "
        "lower what the stage asks for, or use larger nodes")


def _asked_by_tasks(stuck: Sequence[tuple[dict[str, float], int]]) -> str:
    def one(bundle: dict[str, float], count: int) -> str:
        asked = describe_request(bundle.get("CPU", 0.0), bundle.get("GPU", 0.0))
        return f"1 Ray task waits for {asked}" if count == 1 else f"{count} Ray tasks wait for {asked} each"
    return "; ".join(one(bundle, count) for bundle, count in stuck)


def check_progress(stage_name: str, num_cpus: float, num_gpus: float = 0.0, stalled_for: float | None = None,
                   looks: int = CONFIRM_LOOKS, interval: float = CONFIRM_INTERVAL) -> None:
    """Called when nothing of a stage has finished for a while: raise :class:`ResourceError` if its
    workers (``num_cpus``, ``num_gpus`` each) cannot be placed; return if they may merely be slow.

    Stuck means unplaceable (see :func:`curate.engine.cluster.unplaceable`)
    at each of ``looks`` looks, ``interval`` seconds apart.
    """
    cluster.check_fits(stage_name, num_cpus, num_gpus)
    alive: list[Node] = []
    for look in range(looks):
        if look:
            time.sleep(interval)
        alive = cluster.nodes(with_free=True)
        if not cluster.unplaceable(num_cpus, num_gpus, alive):
            return
    asked = f"its workers ask for {describe_request(num_cpus, num_gpus)} each"
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
    some stay unplaceable (see :func:`curate.engine.cluster.unplaceable`) and
    nothing on the nodes changes for ``stall_seconds``, the guard raises into
    the guarded thread; Ray Data answers by shutting the execution down (its
    tasks and actors), and the ``with`` block raises :class:`ResourceError`.
    Ray reports pending tasks cluster-wide, so on a shared cluster another
    job's stuck tasks count too, but only while nothing else moves. The
    guarded thread must be running Python, as Ray Data's consumer loop is; for
    object refs use :func:`wait_with_deadline`.
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
                alive = cluster.nodes(with_free=True)
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
    except Exception as exc:
        error = unwrap(exc, stage_name)  # Ray's wrapper of a task's InputError is an InputError too
        if error is exc:
            raise
        raise error from exc
