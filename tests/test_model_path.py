"""Units on workers without a cluster: the actor path of model stages (an actor pool, ``setup`` once per
actor, GPUs declared; map or expand alike, other stages as tasks) and resume after a crash inside a step
that had written some parts.

:func:`curate.engine.mapping.run_units` is driven with a stand-in for the few
Ray calls it makes (``remote``, ``options``, ``wait``, ``get``, ``kill``): each
actor gets its own copy of the stages, as Ray's serialisation gives it, and
work runs at submission. Parts and resume markers are real files.
"""

from __future__ import annotations

import os
import pickle
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import Field

from curate.documents import order_of
from curate.engine import cluster, mapping
from curate.engine.plan import plan
from curate.engine.units import Unit
from curate.io.reader import ReaderConfig, resolve_inputs
from curate.stage import ExpandResult, ExpandStage, MapStage, ModelStage, StageParams
from tests.conftest import write_jsonl
from tests.kinds import Split


class GpuModel(ModelStage, MapStage):
    """Tags rows with the id of the actor that loaded the "model"; counts its setups in a file."""

    name = "gpu_model"

    class Params(StageParams):
        log: str
        num_gpus: float = 1.0
        concurrency: int | None = Field(None, gt=0)
        fail_on: str | None = None

    def setup(self) -> None:
        self.loaded = os.urandom(4).hex()
        with open(self.params.log, "a") as handle:
            handle.write(self.loaded + "\n")

    def process_batch(self, batch: pa.Table):
        if self.params.fail_on in batch.column("id").to_pylist():
            raise RuntimeError("out of GPU memory")
        return batch.append_column("loaded_by", pa.array([self.loaded] * batch.num_rows)), {"rows": batch.num_rows}


class FakeRay(types.ModuleType):
    """Just enough of ``ray`` for run_units: records options, runs work at submission."""

    def __init__(self) -> None:
        super().__init__("ray")
        self.options: list[dict] = []
        self.actors: list[object] = []
        self.killed: list[object] = []

    def remote(self, target):
        fake = self

        class Remote:
            def options(self, **kwargs):
                fake.options.append(kwargs)
                return self

            def remote(self, *args):
                args = pickle.loads(pickle.dumps(args))  # what crossing to a worker does
                if isinstance(target, type):
                    actor = _Actor(target(*args))
                    fake.actors.append(actor)
                    return actor
                return _call(target, args)

        return Remote()

    def put(self, value):
        return value

    def wait(self, refs, num_returns=1, timeout=None):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        if isinstance(ref.value, BaseException):
            raise ref.value
        return ref.value

    def kill(self, actor):
        self.killed.append(actor)

    def cancel(self, ref, force=False):
        pass


class _Ref:
    def __init__(self, value) -> None:
        self.value = value


def _call(fn, args) -> _Ref:
    try:
        return _Ref(fn(*args))
    except Exception as exc:  # noqa: BLE001 - handed to the caller on get, as Ray does
        return _Ref(exc)


class _Actor:
    def __init__(self, instance) -> None:
        self.instance = instance
        self.run = types.SimpleNamespace(remote=lambda *args: _call(instance.run, pickle.loads(pickle.dumps(args))))


@pytest.fixture
def fake_ray(monkeypatch):
    fake = FakeRay()
    monkeypatch.setitem(__import__("sys").modules, "ray", fake)
    fits = []
    monkeypatch.setattr(cluster, "check_fits", lambda label, cpus, gpus=0.0: fits.append((label, cpus, gpus)))
    # two GPUs in the cluster: two actors unless the stage asks for fewer
    monkeypatch.setattr(cluster, "pool_size", lambda cpus, gpus, requested: requested or 2)
    fake.fits = fits
    return fake


@pytest.fixture
def units(tmp_path):
    files = []
    for f in range(4):
        write_jsonl(tmp_path / f"in{f}.jsonl", [{"id": f"f{f}-{i}", "text": f"text {f} {i}"} for i in range(5)])
    files = resolve_inputs([str(tmp_path / "in*.jsonl")])
    return [Unit(key=f"file-{i:07d}", low=order_of(i, 0), high=order_of(i + 1, 0), file=file, file_index=i,
                 reader=ReaderConfig()) for i, file in enumerate(files)]


def _rows(folder) -> list[dict]:
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("*.parquet"))).to_pylist()


def test_actor_pool_declares_gpus_and_sets_up_once_per_actor(fake_ray, units, tmp_path):
    log = tmp_path / "setups.log"
    stage = GpuModel(log=str(log), num_gpus=1.0)
    out = tmp_path / "step"
    results, resumed = mapping.run_units("gpu_model", [stage], True, units, str(out), 1000, "fp1")
    assert resumed == 0 and len(results) == 4
    assert fake_ray.fits == [("gpu_model", 1.0, 1.0)]
    assert fake_ray.options == [{"num_cpus": 1.0, "num_gpus": 1.0, "max_restarts": 3, "max_task_retries": 3}]
    # two actors for four units: each loaded the model once, and every row was tagged by one of them
    setups = log.read_text().split()
    assert len(fake_ray.actors) == 2 and len(setups) == 2 and len(set(setups)) == 2
    rows = _rows(out)
    assert len(rows) == 20 and {r["loaded_by"] for r in rows} == set(setups)
    assert sum(r["gpu_model"]["stats"]["rows"] for r in results) == 20
    assert fake_ray.killed == fake_ray.actors  # the pool is released when the step ends
    assert sorted(os.listdir(out / mapping.UNITS)) == [f"file-{i:07d}.json" for i in range(4)]


def test_requested_concurrency_sizes_the_pool(fake_ray, units, tmp_path):
    stage = GpuModel(log=str(tmp_path / "setups.log"), num_gpus=0.5, concurrency=1)
    mapping.run_units("gpu_model", [stage], True, units, str(tmp_path / "step"), 1000, "fp1")
    assert len(fake_ray.actors) == 1 and fake_ray.options[0]["num_gpus"] == 0.5
    assert len((tmp_path / "setups.log").read_text().split()) == 1


def test_a_crash_keeps_finished_units_and_the_rerun_does_only_the_rest(fake_ray, units, tmp_path):
    from curate.errors import StageError

    log, out = tmp_path / "setups.log", tmp_path / "step"
    crashing = GpuModel(log=str(log), fail_on="f2-3", concurrency=1)
    with pytest.raises(StageError, match="out of GPU memory"):
        mapping.run_units("gpu_model", [crashing], True, units, str(out), 1000, "fp1")
    finished = sorted(os.listdir(out / mapping.UNITS))
    assert finished == ["file-0000000.json", "file-0000001.json"]  # units run in order on one actor
    fixed = GpuModel(log=str(log), concurrency=1)
    results, resumed = mapping.run_units("gpu_model", [fixed], True, units, str(out), 1000, "fp1")
    assert resumed == 2 and len(results) == 4
    assert sorted(r["id"] for r in _rows(out)) == sorted(f"f{f}-{i}" for f in range(4) for i in range(5))


class FailOnce(MapStage):
    """A stateless map stage that raises on one document while ``flag`` exists."""

    name = "fail_once"

    class Params(StageParams):
        victim: str
        flag: str

    def process_batch(self, batch: pa.Table) -> pa.Table:
        if self.params.victim in batch.column("id").to_pylist() and os.path.exists(self.params.flag):
            raise RuntimeError("worker crashed")
        return batch


def test_a_crash_after_some_parts_were_written_leaves_no_doubled_rows(fake_ray, tmp_path):
    """Reading 4 rows per batch and cutting parts of 4 rows, the unit of in2 writes one part before it
    crashes on f2-6; the re-run removes that part, recomputes the unit and resumes the others."""
    for f in range(4):
        write_jsonl(tmp_path / f"in{f}.jsonl", [{"id": f"f{f}-{i}", "text": f"text {f} {i}"} for i in range(10)])
    files = resolve_inputs([str(tmp_path / "in*.jsonl")])
    units = [Unit(key=f"file-{i:07d}", low=order_of(i, 0), high=order_of(i + 1, 0), file=file, file_index=i,
                  reader=ReaderConfig(batch_rows=4)) for i, file in enumerate(files)]
    flag = tmp_path / "crash"
    flag.write_text("")
    stage = FailOnce(victim="f2-6", flag=str(flag))
    out = tmp_path / "step"
    from curate.errors import StageError

    with pytest.raises(StageError, match="worker crashed"):
        mapping.run_units("fail_once", [stage], True, units, str(out), 4, "fp")
    assert sorted(os.listdir(out / mapping.UNITS)) == ["file-0000000.json", "file-0000001.json", "file-0000003.json"]
    low, high = units[2].low, units[2].high
    leftovers = [p for p in out.glob("*.parquet") if low <= int(p.name.split(".")[0]) < high]
    assert len(leftovers) == 1 and pq.read_table(leftovers[0]).column("id").to_pylist() == [f"f2-{i}" for i in range(4)]

    flag.unlink()
    results, resumed = mapping.run_units("fail_once", [stage], True, units, str(out), 4, "fp")
    assert resumed == 3 and len(results) == 4
    ids = [r["id"] for r in _rows(out)]
    assert sorted(ids) == sorted(f"f{f}-{i}" for f in range(4) for i in range(10)) and len(ids) == len(set(ids))
    clean = tmp_path / "clean"
    mapping.run_units("fail_once", [stage], True, units, str(clean), 4, "fp")
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(p.name for p in clean.glob("*.parquet"))
    assert _rows(out) == _rows(clean)


class Paraphrase(ModelStage, ExpandStage):
    """An expand stage with a "model": one created row per document, tagged by the actor that loaded it."""

    name = "paraphrase"

    class Params(StageParams):
        log: str

    def setup(self) -> None:
        self.loaded = os.urandom(4).hex()
        with open(self.params.log, "a") as handle:
            handle.write(self.loaded + "\n")

    def process_batch(self, batch: pa.Table) -> ExpandResult:
        ids = batch.column("id").to_pylist()
        created = pa.table({"id": [f"{i}#p" for i in ids], "parent_id": ids, "text": [self.loaded] * len(ids)})
        return ExpandResult(batch=batch, created=created)


def test_a_model_stage_runs_in_actors_whatever_its_kind_and_other_stages_as_tasks(fake_ray, units, tmp_path):
    log = tmp_path / "setups.log"
    mapping.run_units("paraphrase", [Paraphrase(log=str(log))], True, units, str(tmp_path / "model"), 1000, "fp")
    setups = log.read_text().split()
    assert len(fake_ray.actors) == 2 and len(setups) == 2  # one model per actor, not per unit
    created = [r for r in _rows(tmp_path / "model") if r["id"].endswith("#p")]
    assert len(created) == 20 and {r["text"] for r in created} == set(setups)
    mapping.run_units("split", [Split()], True, units, str(tmp_path / "plain"), 1000, "fp")
    assert len(fake_ray.actors) == 2 and "max_retries" in fake_ray.options[-1]  # tasks, no new actor
    assert [step.kind for step in plan([Paraphrase(log=str(log)), Split(), GpuModel(log=str(log))])] == [
        "chain", "expand", "expand", "model"]


def test_a_model_stage_needs_a_kind():
    class Kindless(ModelStage):
        name = "kindless"

    with pytest.raises(TypeError, match=r"ModelStage without a kind: combine it with the kind it runs as"):
        plan([Kindless()])
