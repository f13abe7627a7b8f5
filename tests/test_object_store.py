"""Object storage: readers, checkpoints, output, manifest and the read-back commands on a real S3 server.

The server is moto's standalone S3 server on 127.0.0.1 (``tests.s3_server``). The pipeline tests run
pipelines/dedup.yaml from bucket to bucket through the CLI and compare with the same run on local disk.
"""

from __future__ import annotations

import gc
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from curate.io import atomic, storage
from curate.io.frames import read_frame
from curate.io.reader import ReaderConfig, read_file, resolve_inputs
from tests.conftest import REPO, SAMPLE, run_cli
from tests.s3_server import free_port, make_bucket, s3_server, upload  # noqa: F401 (fixture)

DEDUP = str(REPO / "pipelines" / "dedup.yaml")
CHAIN = "00-read+normalize"  # dedup.yaml's first step: reading and normalize, one unit per input file


def frames(output: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The output shards and the dropped table of a run, local or in a bucket."""
    from curate.feed.shards import document_shards

    dropped = sorted(storage.glob(storage.join(output, "_dropped", "*.parquet")))
    return read_frame(document_shards(output)), read_frame(dropped)


# ---------------------------------------------------------------- storage, without Ray


def test_an_object_appears_only_when_committed(s3_server):
    bucket = make_bucket("atomic")
    path = f"{bucket}/a/one.bin"
    handle = atomic.AtomicFile(path)
    handle.write(b"half of it")
    assert not storage.exists(path)
    handle.close()  # closed without commit: thrown away
    assert not storage.exists(path)

    with pytest.raises(RuntimeError), atomic.atomic_write(path) as handle:
        handle.write(b"partial")
        raise RuntimeError("crash mid-write")
    assert not storage.exists(path)

    writer = atomic.ParquetFileWriter(f"{bucket}/a/part.parquet", pa.schema([("x", pa.int64())]))
    writer.write_table(pa.table({"x": [1, 2, 3]}))
    del writer  # dropped unfinished (pyarrow would finish a valid but short file on collection)
    gc.collect()
    assert storage.listdir(f"{bucket}/a") == []

    with atomic.atomic_write(path) as handle:
        handle.write(b"whole")
    assert storage.read_text(path) == "whole" and storage.listdir(f"{bucket}/a") == ["one.bin"]
    size = atomic.write_table(pa.table({"x": [1, 2, 3]}), f"{bucket}/a/part.parquet")
    assert size == storage.size(f"{bucket}/a/part.parquet")
    assert atomic.read_table(f"{bucket}/a/part.parquet").column("x").to_pylist() == [1, 2, 3]
    storage.rmtree(f"{bucket}/a")
    assert storage.listdir(f"{bucket}/a") == [] and not storage.isdir(f"{bucket}/a")


def test_inputs_in_a_bucket_resolve_and_read_like_local_files(s3_server, tmp_path):
    local = tmp_path / "raw"
    local.mkdir()
    for path in SAMPLE.iterdir():
        (local / path.name).write_bytes(path.read_bytes())
    (local / "sub").mkdir()
    lines = b'{"id": "g1", "text": "gzip text"}\n{"id": "g2", "text": "more gzip text"}\n'
    (local / "sub" / "extra.jsonl.gz").write_bytes(gzip.compress(lines))
    (local / "sub" / "plain.jsonl").write_bytes(b'{"id": "p1", "text": "plain"}\nnot json\n')
    (local / "_skipped").mkdir()
    (local / "_skipped" / "hidden.jsonl").write_bytes(lines)
    url = make_bucket("inputs") + "/raw"
    upload(local, url)

    remote_files, local_files = resolve_inputs(url), resolve_inputs(str(local))
    assert [(f.name, f.size, f.format) for f in remote_files] == [(f.name, f.size, f.format) for f in local_files]
    assert all(f.path.startswith(url + "/") for f in remote_files)
    assert [f.name for f in resolve_inputs(f"{url}/sub/*.jsonl*")] == ["extra.jsonl.gz", "plain.jsonl"] == \
        [f.name for f in resolve_inputs(f"{local}/sub/*.jsonl*")]
    assert [f.name for f in resolve_inputs(url, exclude=f"{url}/sub")] == [f.name for f in local_files
                                                                          if not f.name.startswith("sub/")]
    config = ReaderConfig()
    for index, (remote, here) in enumerate(zip(remote_files, local_files)):
        read_remote = pa.concat_tables(read_file(index, remote, config))
        read_local = pa.concat_tables(read_file(index, here, config))
        assert read_remote.equals(read_local), remote.name


def test_an_unreachable_endpoint_is_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("s3fs", reason="needs s3fs: pip install 'curate[s3]'")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # the message is under test, not the client's retries
    for args in (("run", DEDUP, "--input", str(SAMPLE), "--output", "s3://nowhere/curated"),
                 ("run", DEDUP, "--input", "s3://nowhere/raw", "--output", str(tmp_path / "out")),
                 ("inspect", "s3://nowhere/curated")):
        result = run_cli(*args)
        assert result.returncode != 0, args
        assert "cannot reach the object store at http://127.0.0.1:" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 4, result.stderr
    assert not (tmp_path / "out").exists()  # nothing written, nothing presented as complete


# ---------------------------------------------------------------- whole runs through the CLI, on Ray


@pytest.fixture(scope="module")
def bucket_run(s3_server):
    """dedup.yaml on the sample, from s3://curate/raw to s3://curate/curated."""
    bucket = make_bucket("curate")
    upload(SAMPLE, f"{bucket}/raw")
    output = f"{bucket}/curated"
    result = run_cli("run", DEDUP, "--input", f"{bucket}/raw", "--output", output, "--num-cpus", "2")
    assert result.returncode == 0, result.stderr
    return output, result


@pytest.mark.slow
@pytest.mark.ray
def test_dedup_from_bucket_to_bucket_matches_the_local_run(bucket_run, dedup_run):
    output, result = bucket_run
    assert output in result.stdout
    for remote, local in zip(frames(output), frames(str(dedup_run))):
        assert remote.height and remote.equals(local)
    from curate.manifest import read_manifest

    remote_manifest, local_manifest = read_manifest(output), read_manifest(str(dedup_run))
    assert remote_manifest.documents == local_manifest.documents
    assert remote_manifest.output == local_manifest.output  # the same shards, rows and bytes
    assert [(r.name, r.documents_out, r.dropped) for r in remote_manifest.stages] == \
        [(r.name, r.documents_out, r.dropped) for r in local_manifest.stages]
    assert all(i.path.startswith("s3://curate/raw/") for i in remote_manifest.inputs)
    for name in storage.listdir(f"{output}/_stages"):  # the checkpoints live in the bucket, with their markers
        assert storage.isfile(f"{output}/_stages/{name}/_SUCCESS.json")
        assert storage.listdir(f"{output}/_stages/{name}") == sorted(os.listdir(dedup_run / "_stages" / name))

    again = run_cli("run", DEDUP, "--input", "s3://curate/raw", "--output", output, "--num-cpus", "2")
    assert again.returncode == 0, again.stderr
    assert all(r.resumed for r in read_manifest(output).stages)  # resumed from the bucket's checkpoints

    shown = run_cli("inspect", output)
    assert shown.returncode == 0, shown.stderr
    for expected in ("funnel", "exact_dedup", "near_duplicate", "schema: id", output):
        assert expected in shown.stdout
    report = run_cli("report", output, "--tokenizer", "estimate")
    assert report.returncode == 0, report.stderr
    assert "near_duplicate" in storage.read_text(f"{output}/report.html")


@pytest.mark.slow
@pytest.mark.ray
def test_pack_and_the_loader_read_a_bucket(bucket_run, dedup_run, tmp_path):
    pytest.importorskip("torch")
    from curate.feed.pack import PackConfig, pack_output
    from curate.loader import CurateDataset
    from tests.feed_output import train_tokenizer

    output, _ = bucket_run
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    result = run_cli("pack", output, "--tokenizer", tokenizer, "--seq-len", "256")
    assert result.returncode == 0, result.stderr
    local = pack_output(str(dedup_run), PackConfig(tokenizer=tokenizer, seq_len=256, output=str(tmp_path / "packed")))
    packed = f"{output}/_packed"
    assert storage.isfile(f"{packed}/_pack.json")
    remote_rows = read_frame([f"{packed}/{s.path}" for s in local.shards])
    assert remote_rows.equals(read_frame(local.files(str(tmp_path / "packed"))))

    documents = [item["id"] for item in CurateDataset(output)]
    assert documents == frames(str(dedup_run))[0]["id"].to_list()
    rows = [item["tokens"] for item in CurateDataset(packed)]
    assert len(rows) == local.sequences and sum(rows) == local.document_tokens


def _unit_markers(output: str) -> list[str]:
    return storage.listdir(f"{output}/_stages/{CHAIN}/_units")


@pytest.mark.slow
@pytest.mark.ray
def test_a_run_killed_on_a_bucket_resumes_to_the_same_output(s3_server, dedup_run):
    from curate.manifest import has_manifest, read_manifest

    make_bucket("killed")
    upload(SAMPLE, "s3://killed/raw")
    output = "s3://killed/curated"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    process = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "run", DEDUP, "--input", "s3://killed/raw", "--output", output,
         "--num-cpus", "2"], cwd=REPO, env=dict(env, RAY_AUTH_MODE="disabled"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while not _unit_markers(output) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # kill -9: the driver, Ray and its workers, mid-upload or not
    process.wait()
    finished_units = _unit_markers(output)
    assert finished_units, "the run was killed before any unit finished"
    step_finished = storage.isfile(f"{output}/_stages/{CHAIN}/_SUCCESS.json")
    finished = has_manifest(output)

    if not finished:  # an unfinished output is never presented as complete
        shown = run_cli("inspect", output)
        assert shown.returncode != 0 and "no _manifest.json" in shown.stderr and "Traceback" not in shown.stderr
        result = run_cli("run", DEDUP, "--input", "s3://killed/raw", "--output", output, "--num-cpus", "2")
        assert result.returncode == 0, result.stderr
        stages = read_manifest(output).stages
        if step_finished:
            assert stages[0].resumed and stages[1].resumed
        else:
            assert stages[1].parts_resumed >= len(finished_units)
    for remote, local in zip(frames(output), frames(str(dedup_run))):
        assert remote.equals(local)
    # no leftover of the units cut short: the checkpoint holds exactly the parts of the local run
    assert storage.listdir(f"{output}/_stages/{CHAIN}") == sorted(os.listdir(Path(dedup_run) / "_stages" / CHAIN))
