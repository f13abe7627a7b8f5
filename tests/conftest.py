from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from curate.documents import DOCUMENT_SCHEMA
from curate.stage import ORDER
from tests.s3_server import s3_server  # noqa: F401 (a fixture: a real S3 server on 127.0.0.1)

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


# Fixtures that start Ray or load a model: a test using one gets the matching marker, so
# `pytest -m "not ray and not model"` (make test-fast) leaves it out without each file repeating the marker.
RAY_FIXTURES = {"ray_session", "ray_local", "half_cpu_held", "two_nodes"}
MODEL_FIXTURES = {"minilm", "smol", "smol_lm", "server"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & RAY_FIXTURES:
            item.add_marker(pytest.mark.ray)
        if used & MODEL_FIXTURES:
            item.add_marker(pytest.mark.model)


@pytest.fixture(autouse=True)
def _ray_only_when_marked(request):
    """A test that starts Ray in this process must be marked ``ray`` (make test-fast runs without Ray)."""
    ray = sys.modules.get("ray")
    was_running = ray is not None and ray.is_initialized()
    yield
    ray = sys.modules.get("ray")
    if ray is not None and not was_running and ray.is_initialized() \
            and request.node.get_closest_marker("ray") is None:
        pytest.fail("this test started Ray: mark it @pytest.mark.ray (or use the ray_session fixture)")


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session."""
    from curate.ray_env import init_ray

    init_ray(num_cpus=2)
    yield
    import ray

    ray.shutdown()


def write_jsonl(path: Path, records: list) -> Path:
    """Write records (dicts, or raw str/bytes lines) as JSONL."""
    with open(path, "wb") as handle:
        for record in records:
            if isinstance(record, bytes):
                handle.write(record + b"\n")
            elif isinstance(record, str):
                handle.write(record.encode() + b"\n")
            else:
                handle.write(json.dumps(record).encode() + b"\n")
    return path


def documents(texts: list[str], ids: list[str] | None = None) -> pa.Table:
    """A document-contract table for stage tests."""
    ids = ids or [f"d{i}" for i in range(len(texts))]
    return pa.table(
        {"id": ids, "text": texts, "source": ["test"] * len(texts), "meta": [None] * len(texts),
         ORDER: list(range(len(texts)))},
        schema=DOCUMENT_SCHEMA,
    )


def terminate(process: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a helper process: terminate, then kill it if it has not ended within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray of the run's own
    env.update(RAY_AUTH_MODE="disabled", COLUMNS="200")
    return env


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """The CLI run to its end in a process group of its own; past ``timeout`` the whole group (driver, Ray and
    workers) is killed before the test fails, so no Ray process outlives it."""
    process = subprocess.Popen([sys.executable, "-m", "curate.cli", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=_cli_env(), cwd=REPO, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def start_cli(*args: str) -> subprocess.Popen:
    """The CLI started in a process group of its own (its Ray and workers included), output discarded."""
    return subprocess.Popen([sys.executable, "-m", "curate.cli", *args], cwd=REPO, env=_cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process started by :func:`start_cli` and everything in its group: driver, Ray and workers."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # the group had already ended
        pass
    process.wait()



@pytest.fixture(scope="session")
def dedup_run(tmp_path_factory) -> Path:
    """pipelines/dedup.yaml run once on the sample through the CLI on 2 CPUs; shared by the tests that read it."""
    out = tmp_path_factory.mktemp("dedup") / "out"
    result = run_cli("run", str(REPO / "pipelines" / "dedup.yaml"), "--input", str(SAMPLE), "--output", str(out),
                     "--num-cpus", "2")
    assert result.returncode == 0, result.stderr
    return out


TOPICS = {
    "cooking": "oven flour butter sugar bake dough recipe knead yeast bread crust",
    "sailing": "boat sail wind harbour mast keel anchor tide crew deck rope",
    "chess": "king queen rook bishop knight pawn checkmate opening endgame board move",
}


def topic_records(count: int, words: int) -> list[dict]:
    """``count`` documents of three topics (TOPICS), interleaved, each ``words`` random words of its topic."""
    import random

    rng = random.Random(0)
    return [{"id": f"{topic}-{i:02d}", "text": " ".join(rng.choice(TOPICS[topic].split()) for _ in range(words)),
             "source": topic} for i, topic in zip(range(count), list(TOPICS) * count)]
