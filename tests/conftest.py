from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from curate.documents import DOCUMENT_SCHEMA
from curate.stage import ORDER

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"


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


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, RAY_AUTH_MODE="disabled", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=REPO)


# The vLLM backend runs for real only in its own environment (make test-vllm).
collect_ignore_glob = [] if os.environ.get("CURATE_VLLM_MODEL") else ["vllm/*"]
