"""A real S3-compatible server for tests: moto's standalone server on a free port of 127.0.0.1.

``s3_server`` (a pytest fixture, module-scoped) starts it, points the standard AWS
environment variables at it for this process and the CLI subprocesses it starts,
and stops it afterwards. Skipped with its reason when ``moto[server]`` or ``s3fs``
is not installed (``pip install 'curate[s3,test]'``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from curate.io import storage

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(endpoint: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {process.returncode}")
        try:
            urllib.request.urlopen(endpoint, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the S3 server did not answer at {endpoint} within {timeout}s")


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[str]:
    """The endpoint URL of a fresh S3 server; AWS_* variables point at it while the module's tests run."""
    pytest.importorskip("moto.server", reason="needs moto[server]: pip install 'curate[s3,test]'")
    pytest.importorskip("s3fs", reason="needs s3fs: pip install 'curate[s3]'")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = Path(tmp_path_factory.mktemp("moto")) / "server.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=handle, stderr=subprocess.STDOUT)
    saved = {key: os.environ.get(key) for key in (*CREDENTIALS, "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    os.environ.update(CREDENTIALS, AWS_ENDPOINT_URL=endpoint)
    os.environ.pop("AWS_PROFILE", None)
    storage.reset_filesystems()
    try:
        _wait_until_up(endpoint, process)
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        storage.reset_filesystems()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_bucket(name: str) -> str:
    """Create a bucket on the test server; returns its URL."""
    fs, _ = storage.filesystem(f"s3://{name}")
    fs.mkdir(name)
    return f"s3://{name}"


def upload(folder: Path, url: str) -> None:
    """Copy the files of a local folder (recursively) under a bucket prefix."""
    from curate.io import atomic

    for path in sorted(folder.rglob("*")):
        if path.is_file():
            atomic.write_bytes(f"{url}/{path.relative_to(folder).as_posix()}", path.read_bytes())
