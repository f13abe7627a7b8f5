"""Units on Ray: steps of model stages in an actor pool, other chains and expand steps as tasks, resumed unit by unit.

A step's folder holds ``_STEP.json`` (the step's fingerprint) and, per finished
unit, ``_units/<key>.json`` with its counts, written after the unit's parts.
A re-run with the same fingerprint skips finished units and removes the
leftovers of unfinished ones, so a crash in an hours-long model pass loses
only the units in flight. Tasks and actors are retried when a worker dies;
every file is published whole or not at all (``curate.io.atomic``), so a retry
never doubles a row. The same holds in an object store, where the leftovers of
unfinished units are found by listing the prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from curate.engine import cluster, stall
from curate.engine.errors import unwrap
from curate.engine.features import FOLDER as FEATURES
from curate.engine.snapshot import read_view, split
from curate.engine.units import Unit, run_unit
from curate.io import atomic, checkpoint, storage
from curate.stage import ORDER, BatchStage, GlobalStage, ModelStage

STEP_FILE = "_STEP.json"
UNITS = "_units"
# Seconds without any finished unit after which the cluster is asked whether the work can run at all.
STALL_SECONDS = 60.0

Progress = Callable[[int, int], None]


def prepare(folder: str, fingerprint: str) -> dict[str, dict[str, Any]]:
    """Counts of the units already finished under ``fingerprint``; a folder of another fingerprint is cleared."""
    marker = storage.join(folder, STEP_FILE)
    step = checkpoint.read_json(marker)
    if step is None or step.get("fingerprint") != fingerprint:
        storage.rmtree(folder)
        storage.makedirs(storage.join(folder, UNITS))
        _write_json(marker, {"fingerprint": fingerprint})
    finished = {}
    for name in storage.listdir(storage.join(folder, UNITS)):
        if name.endswith(".json"):
            finished[name[:-5]] = checkpoint.read_json(storage.join(folder, UNITS, name))
    return finished


def remove_unfinished(folder: str, units: list[Unit], finished: dict[str, Any]) -> None:
    """Delete parts (and temporary files) that units without a finish marker left behind."""
    open_ranges = [(u.low, u.high) for u in units if u.key not in finished]
    for where in (folder, storage.join(folder, FEATURES)):
        for name in storage.listdir(where):
            if name.endswith(atomic.TMP):
                storage.remove(storage.join(where, name))
                continue
            if not name.endswith(".parquet"):
                continue
            start = int(name.split(".")[0])
            if any(low <= start and (high is None or start < high) for low, high in open_ranges):
                storage.remove(storage.join(where, name))


def _write_json(path: str, value: Any) -> None:
    atomic.write_text(path, json.dumps(value, sort_keys=True))


def _finish_unit(unit: Unit, stages: list[BatchStage], reads_input: bool, folder: str, part_rows: int,
                 feature_stage: GlobalStage | None = None) -> dict[str, Any]:
    counts = run_unit(unit, stages, reads_input, folder, part_rows, feature_stage)
    _write_json(storage.join(folder, UNITS, f"{unit.key}.json"), counts)  # the unit's marker, after its parts
    return counts


_SET_UP: dict[tuple[type, str], BatchStage] = {}


def _ready(stages: list[BatchStage]) -> list[BatchStage]:
    """The stages set up once per worker process (``setup`` may load tables or small models)."""
    ready = []
    for stage in stages:
        key = (type(stage), stage.params.model_dump_json())
        if key not in _SET_UP:
            stage.setup()
            _SET_UP[key] = stage
        ready.append(_SET_UP[key])
    return ready


def _unit_task(unit: Unit, stages: list[BatchStage], reads_input: bool, folder: str, part_rows: int,
               feature_stage: GlobalStage | None) -> dict[str, Any]:
    return _finish_unit(unit, _ready(stages), reads_input, folder, part_rows, feature_stage)


class _UnitActor:
    """One model loaded once; runs units one after another."""

    def __init__(self, stages: list[BatchStage]) -> None:
        for stage in stages:
            stage.setup()
        self.stages = stages

    def run(self, unit: Unit, reads_input: bool, folder: str, part_rows: int) -> dict[str, Any]:
        return _finish_unit(unit, self.stages, reads_input, folder, part_rows)


def needs_actors(stages: list[BatchStage]) -> bool:
    """The one rule: a step with a model stage runs in an actor pool (the model loaded once per actor)."""
    return any(isinstance(stage, ModelStage) for stage in stages)


def run_units(label: str, stages: list[BatchStage], reads_input: bool, units: list[Unit], folder: str,
              part_rows: int, fingerprint: str, progress: Progress | None = None,
              feature_stage: GlobalStage | None = None
              ) -> tuple[list[dict[str, Any]], int]:
    """Run every unit not yet finished; returns all units' counts and how many were resumed.

    ``feature_stage``: a global stage whose ``features`` the chain computes for it.
    """
    import ray

    num_cpus = max([s.resources.num_cpus for s in stages] + [1.0])
    num_gpus = max([s.resources.num_gpus for s in stages] + [0.0])
    requested = next((s.resources.concurrency for s in stages if s.resources.concurrency), None)
    if needs_actors(stages):
        units = balanced(units, cluster.pool_size(num_cpus, num_gpus, requested))
    finished = prepare(folder, fingerprint)
    keys = {u.key for u in units}
    for stale in [k for k in finished if k not in keys]:  # units of another split: their ranges run again
        storage.remove(storage.join(folder, UNITS, f"{stale}.json"))
    finished = {k: v for k, v in finished.items() if k in keys}
    remove_unfinished(folder, units, finished)
    todo = [u for u in units if u.key not in finished]
    results = list(finished.values())
    progress = progress or (lambda done, total: None)
    progress(len(results), len(units))
    if not todo:
        return results, len(finished)
    cluster.check_fits(label, num_cpus, num_gpus)
    actors: list[Any] = []
    if needs_actors(stages):
        size = min(len(todo), cluster.pool_size(num_cpus, num_gpus, requested))
        actor_class = ray.remote(_UnitActor).options(num_cpus=num_cpus, num_gpus=num_gpus or None,
                                                     max_restarts=3, max_task_retries=3)
        actors = [actor_class.remote(stages) for _ in range(size)]
        submit = _actor_submitter(actors, reads_input, folder, part_rows)
    else:
        task = ray.remote(_unit_task).options(num_cpus=num_cpus, num_gpus=num_gpus or None, max_retries=3)
        stages_ref = ray.put(stages)

        def submit(unit: Unit, slot: int) -> Any:
            return task.remote(unit, stages_ref, reads_input, folder, part_rows, feature_stage)

        size = len(todo)
    try:
        results += _drive(label, todo, submit, size, num_cpus, num_gpus, lambda n: progress(len(finished) + n,
                                                                                            len(units)))
    finally:
        for actor in actors:
            ray.kill(actor)
    return results, len(finished)


# A model step's units are cut so that each worker of the pool gets about this many of them: a part that
# holds most of the documents (one big input file) would otherwise keep one worker busy while the rest wait.
UNITS_PER_WORKER = 4
# ... but no piece smaller than this many rows, where a model call's fixed cost would dominate.
MIN_PIECE_ROWS = 64


def balanced(units: list[Unit], workers: int) -> list[Unit]:
    """Checkpoint-part units with more than their share of the kept rows split into pieces by ``_order``.

    A piece is keyed by its range, so a resume with another pool size runs the
    ranges whose pieces changed again instead of mixing two splits.
    """
    if workers < 2 or any(u.view is None for u in units):
        return units
    sizes = [len(read_view(u.view, columns=[ORDER])) for u in units if u.view is not None]
    share = max(MIN_PIECE_ROWS, -(-sum(sizes) // (workers * UNITS_PER_WORKER)))
    out = []
    for unit, size in zip(units, sizes):
        pieces = -(-size // share)
        if pieces < 2 or unit.view is None:
            out.append(unit)
            continue
        out += [Unit(key=f"{view.low:020d}-{pieces}", low=view.low, high=view.high, view=view)
                for view in split(unit.view, pieces)]
    return out


def _actor_submitter(actors: list[Any], reads_input: bool, folder: str, part_rows: int) -> Callable[[Unit, int], Any]:
    def submit(unit: Unit, slot: int) -> Any:
        return actors[slot].run.remote(unit, reads_input, folder, part_rows)
    return submit


def _drive(label: str, todo: list[Unit], submit: Callable[[Unit, int], Any], slots: int, num_cpus: float,
           num_gpus: float, progress: Callable[[int], None]) -> list[dict[str, Any]]:
    """Keep ``slots`` units in flight; fail with a clear error when nothing finishes and nothing can run."""
    import ray

    queue = list(reversed(todo))
    in_flight: dict[Any, int] = {}
    free = list(range(slots))
    results = []
    while queue or in_flight:
        while queue and free:
            slot = free.pop()
            in_flight[submit(queue.pop(), slot)] = slot
        done, _ = ray.wait(list(in_flight), num_returns=1, timeout=STALL_SECONDS)
        if not done:
            stall.check_progress(label, num_cpus, num_gpus, stalled_for=STALL_SECONDS)
            continue
        ref = done[0]
        free.append(in_flight.pop(ref))
        try:
            results.append(ray.get(ref))
        except Exception as exc:
            for other in in_flight:
                ray.cancel(other, force=False)
            raise unwrap(exc, label) from exc
        progress(len(results))
    return results
