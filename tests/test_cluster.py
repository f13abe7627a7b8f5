"""The cluster checks: what the nodes have, failing fast on what no node can run, failing
instead of hanging when work cannot be placed, and the same output on two nodes as on one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.engine import cluster, stall
from curate.engine.cluster import Node
from curate.engine.stall import StallGuard
from curate.errors import ResourceError
from tests.conftest import REPO, SAMPLE, terminate

# ---------------------------------------------------------------- fake nodes, no Ray


def _node(name: str, cpus: float, gpus: float = 0.0, free_cpus: float | None = None,
          free_gpus: float | None = None) -> Node:
    return Node(name * 56, f"10.0.0.{len(name)}", cpus, gpus, free_cpus, free_gpus)


def _fake(monkeypatch, nodes: list[Node] | None = None, pending=(), nodes_fn=None) -> None:
    monkeypatch.setattr(cluster, "nodes", nodes_fn or (lambda with_free=False: list(nodes)))
    monkeypatch.setattr(stall, "pending_requests", lambda: list(pending))


# Two 1-CPU nodes, a quarter of each held by something small (a shuffle aggregator).
FRAGMENTED = [_node("a", 1, 0, 0.75, 0), _node("bb", 1, 0, 0.75, 0)]
# Two 1-CPU nodes, each running a 1-CPU worker.
BUSY = [_node("a", 1, 0, 0.0, 0), _node("bb", 1, 0, 0.0, 0)]


def test_check_fits_names_the_request_and_the_largest_node(monkeypatch):
    _fake(monkeypatch, [_node("a", 2), _node("bb", 2)])
    with pytest.raises(ResourceError) as info:
        cluster.check_fits("rewrite", 1, 1)
    assert str(info.value) == (
        "stage 'rewrite' asks for 1 GPU and 1 CPU per worker, but the cluster's largest node has 0 GPUs and "
        "2 CPUs (2 nodes: 10.0.0.1 (2 CPUs), 10.0.0.2 (2 CPUs)); lower num_gpus or add a GPU node")
    cluster.check_fits("rewrite", 2)


def test_check_fits_counts_one_node_not_the_sum(monkeypatch):
    _fake(monkeypatch, [_node("a", 1), _node("bb", 1)])
    with pytest.raises(ResourceError, match=r"asks for 2 CPUs per worker, but the cluster's largest node has "
                                            r"1 CPU .*; lower num_cpus or add a node with 2 CPUs$"):
        cluster.check_fits("normalize", 2)


def test_check_fits_wants_cpus_and_gpus_on_the_same_node(monkeypatch):
    _fake(monkeypatch, [_node("a", 8), _node("bb", 1, 1)])
    cluster.check_fits("rewrite", 1, 1)
    with pytest.raises(ResourceError, match="largest node has 1 GPU and 1 CPU .*add a GPU node with 2 CPUs"):
        cluster.check_fits("rewrite", 2, 1)
    with pytest.raises(ResourceError, match="add a node with 2 GPUs"):
        cluster.check_fits("rewrite", 1, 2)


def test_check_fits_without_alive_nodes(monkeypatch):
    _fake(monkeypatch, [])
    with pytest.raises(ResourceError, match="the cluster has no alive nodes"):
        cluster.check_fits("read", 1)


def test_describe_tells_nodes_on_one_address_apart():
    text = cluster.describe([Node("a" * 56, "10.0.0.1", 1, 0, 0.75, 0), Node("b" * 56, "10.0.0.1", 4, 2, 4, 0.5)],
                            free=True)
    assert text == ("2 nodes: 10.0.0.1/aaaaaa (0.75 of 1 CPU free), "
                    "10.0.0.1/bbbbbb (4 of 4 CPUs free, 0.5 of 2 GPUs free)")


def test_pool_size_counts_workers_node_by_node(monkeypatch):
    _fake(monkeypatch, [_node("a", 2), _node("bb", 1.5)])
    assert cluster.pool_size(1, 0, None) == 3
    assert cluster.pool_size(0.5, 0, None) == 7
    assert cluster.pool_size(0.1, 0, None) == 35  # no float rounding loss (2 / 0.1 = 19.999...)
    assert cluster.pool_size(4, 0, None) == 1  # nothing fits: at least one
    assert cluster.pool_size(0, 0, None) == 3  # asks for nothing: one per CPU
    assert cluster.pool_size(1, 0, 5) == 5
    with pytest.raises(ValueError, match="at least 1"):
        cluster.pool_size(1, 0, 0)


def test_pool_size_with_gpus(monkeypatch):
    _fake(monkeypatch, [_node("a", 16, 4), _node("bb", 32)])
    assert cluster.pool_size(1, 1, None) == 4
    assert cluster.pool_size(1, 0.5, None) == 8
    assert cluster.pool_size(8, 0.5, None) == 2  # CPUs bound the GPU node
    assert cluster.pool_size(8, 0, None) == 6


def test_unplaceable_tells_stuck_from_busy():
    assert cluster.unplaceable(1, 0, FRAGMENTED)
    assert not cluster.unplaceable(1, 0, BUSY)  # our own workers hold the CPUs: slow, not stuck
    assert not cluster.unplaceable(1, 0, [*FRAGMENTED, _node("ccc", 1, 0, 1.0, 0)])
    assert not cluster.unplaceable(0.5, 0, FRAGMENTED)
    assert cluster.unplaceable(1, 1, FRAGMENTED)  # no GPU anywhere
    assert not cluster.unplaceable(1, 0, [_node("a", 1)])  # free resources unknown: never stuck


def test_check_progress_fails_only_when_work_cannot_be_placed(monkeypatch):
    _fake(monkeypatch, BUSY)
    stall.check_progress("read", 1, looks=2, interval=0)
    _fake(monkeypatch, FRAGMENTED)
    with pytest.raises(ResourceError) as info:
        stall.check_progress("read", 1, stalled_for=60, looks=2, interval=0)
    assert str(info.value).startswith(
        "stage 'read' made no progress for 60s: its workers ask for 1 CPU each, but no node can place one "
        "(2 nodes: 10.0.0.1 (0.75 of 1 CPU free), 10.0.0.2 (0.75 of 1 CPU free)); ")


def _spin(seconds: float) -> None:
    """Python work that never finishes in time, as Ray Data's consumer loop waiting on tasks."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.01)


def test_stall_guard_fails_a_stuck_wait(monkeypatch):
    _fake(monkeypatch, FRAGMENTED, pending=[({"CPU": 1.0, "memory": 1024.0}, 8)])
    started = time.monotonic()
    with pytest.raises(ResourceError) as info:
        with StallGuard("exact_dedup", stall_seconds=0.5, poll_seconds=0.1):
            _spin(10)
    assert time.monotonic() - started < 3
    assert "stage 'exact_dedup' made no progress for " in str(info.value)
    assert "8 Ray tasks wait for 1 CPU each, but no node can place one (2 nodes: " in str(info.value)


def test_stall_guard_leaves_finished_and_moving_work_alone(monkeypatch):
    _fake(monkeypatch, FRAGMENTED, pending=[({"CPU": 1.0}, 8)])
    with StallGuard("exact_dedup", stall_seconds=0.3, poll_seconds=0.1):
        pass
    _spin(0.5)  # nothing arrives late
    looks = iter(range(1_000_000))

    def moving(with_free: bool = False) -> list[Node]:
        free = 0.75 if next(looks) % 2 else 0.5
        return [_node("a", 1, 0, free, 0), _node("bb", 1, 0, free, 0)]

    _fake(monkeypatch, pending=[({"CPU": 1.0}, 8)], nodes_fn=moving)
    with StallGuard("exact_dedup", stall_seconds=0.3, poll_seconds=0.05):
        _spin(1.0)


# ---------------------------------------------------------------- a local Ray (2 CPUs, one node)


@pytest.mark.slow
def test_cluster_resources_on_local_ray(ray_session):
    summary = cluster.cluster_resources()
    assert summary["alive_nodes"] == 1 and summary["cpus"] == 2 and summary["gpus"] == 0
    assert summary["nodes"][0]["cpus"] == 2
    assert cluster.pool_size(1, 0, None) == 2


@pytest.mark.slow
def test_impossible_request_fails_fast(ray_session):
    started = time.monotonic()
    with pytest.raises(ResourceError, match=r"^stage 'rewrite' asks for 1 GPU and 1 CPU per worker, but the "
                                            r"cluster's largest node has 0 GPUs and 2 CPUs \(1 node: .*\); "
                                            r"lower num_gpus or add a GPU node$"):
        cluster.check_fits("rewrite", 1, 1)
    with pytest.raises(ResourceError, match="asks for 3 CPUs per worker"):
        cluster.check_fits("normalize", 3)
    assert time.monotonic() - started < 5


@pytest.mark.slow
@pytest.mark.ray
def test_cli_fails_fast_when_no_node_has_a_gpu(tmp_path):
    started = time.monotonic()
    # one small file: the steps before the GPU stage run on little data before it is refused
    result = _run("run", str(REPO / "pipelines" / "default.yaml"), "--input", str(SAMPLE / "moby_dick_chapters.jsonl.zst"), "--output",
                  str(tmp_path / "out"), "--num-cpus", "2", "--set", "rewrite.num_gpus=1", "--set", "rewrite.num_cpus=1",
                  timeout=120)
    assert result.returncode == 1, result.stderr
    assert ("error: stage 'rewrite' asks for 1 GPU and 1 CPU per worker, but the cluster's largest node has "
            "0 GPUs and 2 CPUs (1 node: ") in result.stderr
    assert time.monotonic() - started < 90


@pytest.fixture
def half_cpu_held(ray_session):
    """An actor holding 0.5 of the local Ray's 2 CPUs: 1.5 stay free."""
    import ray

    @ray.remote(num_cpus=0.5)
    class Holder:
        def ready(self) -> bool:
            return True

    holder = Holder.remote()
    ray.get(holder.ready.remote())
    yield
    ray.kill(holder)


@pytest.mark.slow
def test_wait_with_deadline_returns_results(ray_session):
    import ray

    refs = [ray.remote(lambda x: x * 2).remote(i) for i in range(4)]
    assert stall.wait_with_deadline(refs, "normalize", stall_seconds=5) == [0, 2, 4, 6]


@pytest.mark.slow
def test_wait_with_deadline_fails_when_work_cannot_be_placed(half_cpu_held):
    import ray

    ref = ray.remote(lambda: 1).options(num_cpus=2).remote()
    started = time.monotonic()
    try:
        with pytest.raises(ResourceError, match=r"made no progress for 1s: its workers ask for 2 CPUs each, but no "
                                                r"node can place one \(1 node: .* \(1.5 of 2 CPUs free\)\)"):
            stall.wait_with_deadline([ref], "rewrite", num_cpus=2, stall_seconds=1)
    finally:
        ray.cancel(ref, force=True)
    assert time.monotonic() - started < 15


@pytest.mark.slow
def test_stall_guard_stops_a_stuck_ray_data_call(half_cpu_held):
    import ray
    import ray.data

    started = time.monotonic()
    with pytest.raises(ResourceError, match=r"1 Ray task waits for 1.6 CPUs, but no node can place one"):
        with StallGuard("minhash_dedup", stall_seconds=1, poll_seconds=0.25):
            ray.data.range(4, override_num_blocks=2).map_batches(lambda b: b, num_cpus=1.6).materialize()
    assert time.monotonic() - started < 20
    # Ray Data shut its execution down: its pending task is gone.
    deadline = time.monotonic() + 10
    while ray.available_resources().get("CPU", 0) < 1.5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.data.range(4).count() == 4


# ---------------------------------------------------------------- a real two-node cluster

# Starts a Ray cluster of several nodes on this machine (ray.cluster_utils.Cluster),
# writes its address, and shuts it down when stdin closes (the test ends or dies)
# or on SIGTERM. Cluster makes every plain ray.init() on this machine join it by
# writing Ray's "current cluster" file; the script puts back what was there.
CLUSTER_SCRIPT = textwrap.dedent("""
    import os, signal, sys, threading
    from ray._private.utils import get_ray_address_file
    from ray.cluster_utils import Cluster

    cpus, address_file, temp_dir = [float(c) for c in sys.argv[1].split(",")], sys.argv[2], sys.argv[3]
    known = get_ray_address_file(None)

    def read_known():
        if os.path.exists(known):
            with open(known) as handle:
                return handle.read()
        return None

    def restore(content):
        if content is None:
            if os.path.exists(known):
                os.remove(known)
        else:
            with open(known, "w") as handle:
                handle.write(content)

    previous = read_known()
    node_args = {"temp_dir": temp_dir, "object_store_memory": 256 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus[0], "include_dashboard": False,
                                                            **node_args})
    try:
        restore(previous)
        for count in cpus[1:]:
            cluster.add_node(num_cpus=count, **node_args)
        cluster.wait_for_nodes()
        with open(address_file + ".tmp", "w") as handle:
            handle.write(cluster.address)
        os.replace(address_file + ".tmp", address_file)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
        done.wait()
    finally:
        cluster.shutdown()
        restore(previous)
""")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return dict(env, RAY_AUTH_MODE="disabled", COLUMNS="200", **extra)


@pytest.fixture(scope="module", params=[(1, 1), (2, 2)], ids=["1+1cpu", "2+2cpu"])
def two_nodes(request):
    """The address of a head node and one worker node on this machine, with the given CPUs each."""
    # A short folder: Ray's socket paths must stay under the OS limit.
    folder = Path(tempfile.mkdtemp(prefix="crc-", dir="/tmp"))
    address_file = folder / "address"
    log = open(folder / "cluster.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-c", CLUSTER_SCRIPT, ",".join(map(str, request.param)), str(address_file),
         str(folder / "ray")],
        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not address_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, \
                f"the cluster did not start:\n{(folder / 'cluster.log').read_text()[-3000:]}"
            time.sleep(0.5)
        yield address_file.read_text()
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _stop(process: subprocess.Popen) -> None:
    """Close the script's stdin (it shuts the cluster down), then insist."""
    try:
        process.stdin.close()
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        terminate(process, timeout=30)


def _run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True,
                              timeout=timeout, env=_env(), cwd=REPO)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`curate {' '.join(args)}` still ran after {timeout}s (a hang):\n{exc.stderr}")


def _rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.parquet")):
        rows += pq.read_table(path).to_pylist()
    return rows


DEDUP = str(REPO / "pipelines" / "dedup.yaml")


@pytest.fixture(scope="module")
def single_node_rows(dedup_run) -> list[dict]:
    return _rows(dedup_run)


@pytest.mark.slow
def test_two_nodes_give_the_single_node_output(two_nodes, single_node_rows, tmp_path):
    out = tmp_path / "out"
    result = _run("run", DEDUP, "--input", str(SAMPLE), "--output", str(out), "--address", two_nodes)
    assert result.returncode == 0, result.stderr
    rows = _rows(out)
    assert rows and rows == single_node_rows


@pytest.mark.slow
def test_impossible_request_fails_fast_on_two_nodes(two_nodes):
    code = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR')\n"
            "from curate.engine.cluster import ResourceError, check_fits\n"
            "try:\n    check_fits('rewrite', 1, 1)\nexcept ResourceError as exc:\n    print(exc)")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code, two_nodes], capture_output=True, text=True, timeout=60,
                            env=_env(), cwd=REPO)
    assert time.monotonic() - started < 30
    assert "stage 'rewrite' asks for 1 GPU and 1 CPU per worker, but the cluster's largest node has 0 GPUs" \
        in result.stdout, result.stderr
    assert "(2 nodes: " in result.stdout and "lower num_gpus or add a GPU node" in result.stdout
