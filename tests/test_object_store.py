"""Object storage: readers, checkpoints, output, manifest and the read-back commands on a real S3 server.

The server is moto's standalone S3 server on 127.0.0.1 (``tests.s3_server``). The pipeline tests run
pipelines/dedup.yaml from bucket to bucket through the CLI and compare with the same run on local disk.
"""

from __future__ import annotations

import gc
import gzip
import os
import time

import polars as pl
import pyarrow as pa
import pytest
from rich.console import Console

from curate.inspect import inspect_output
from curate.io import atomic, storage
from curate.io.frames import read_frame
from curate.io.reader import ReaderConfig, read_file, resolve_inputs
from tests.conftest import REPO, SAMPLE, kill_group, run_cli, start_cli
from tests.s3_server import free_port, make_bucket, upload

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
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # the message is under test, not the client's retries
    monkeypatch.setattr(storage, "_FILESYSTEMS", {})  # this process's filesystems read the environment anew
    for args in (("run", DEDUP, "--input", str(SAMPLE), "--output", "s3://nowhere/curated"),
                 ("run", DEDUP, "--input", "s3://nowhere/raw", "--output", str(tmp_path / "out"))):
        result = run_cli(*args)
        assert result.returncode != 0, args
        assert "cannot reach the object store at http://127.0.0.1:" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 4, result.stderr
    assert not (tmp_path / "out").exists()  # nothing written, nothing presented as complete
    with pytest.raises(storage.StorageError, match="cannot reach the object store"):
        inspect_output("s3://nowhere/curated", 3, Console())


# ---------------------------------------------------------------- whole runs through the CLI, on Ray


def _unit_markers(output: str) -> list[str]:
    return storage.listdir(f"{output}/_stages/{CHAIN}/_units")


@pytest.fixture(scope="module")
def bucket_run(s3_server):
    """dedup.yaml on the sample from s3://curate/raw to s3://curate/curated: killed with SIGKILL (driver, Ray and
    workers) once the first input file's unit is committed, then run again to the end.

    Returns the output URL, the second run's result and what the bucket held after the kill.
    """
    from curate.manifest import has_manifest

    bucket = make_bucket("curate")
    upload(SAMPLE, f"{bucket}/raw")
    output = f"{bucket}/curated"
    command = ["run", DEDUP, "--input", f"{bucket}/raw", "--output", output, "--num-cpus", "2"]
    process = start_cli(*command)
    deadline = time.time() + 240
    while not _unit_markers(output) and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    kill_group(process)
    killed = {"units": _unit_markers(output), "step_finished": storage.isfile(f"{output}/_stages/{CHAIN}/_SUCCESS.json"),
              "finished": has_manifest(output), "inspect": None}
    if not killed["finished"]:
        killed["inspect"] = run_cli("inspect", output)
    result = run_cli(*command)
    assert result.returncode == 0, result.stderr
    return output, result, killed


@pytest.mark.slow
@pytest.mark.ray
def test_a_run_killed_on_a_bucket_resumes_to_the_output_of_the_local_run(bucket_run, dedup_run):
    from curate.manifest import read_manifest

    output, result, killed = bucket_run
    assert killed["units"], "the run was killed before any unit finished"
    manifest = read_manifest(output)
    if not killed["finished"]:  # an unfinished output is never presented as complete
        shown = killed["inspect"]
        assert shown.returncode != 0 and "no _manifest.json" in shown.stderr and "Traceback" not in shown.stderr
        if killed["step_finished"]:
            assert manifest.stages[0].resumed and manifest.stages[1].resumed
        else:  # resumed unit by unit: the units committed before the kill were not run again
            assert manifest.stages[1].parts_resumed >= len(killed["units"])
    assert output in result.stdout
    for remote, local in zip(frames(output), frames(str(dedup_run))):
        assert remote.height and remote.equals(local)
    local_manifest = read_manifest(str(dedup_run))
    assert manifest.documents == local_manifest.documents
    assert manifest.output == local_manifest.output  # the same shards, rows and bytes
    assert [(r.name, r.documents_out, r.dropped) for r in manifest.stages] == \
        [(r.name, r.documents_out, r.dropped) for r in local_manifest.stages]
    assert all(i.path.startswith("s3://curate/raw/") for i in manifest.inputs)
    # the checkpoints live in the bucket, each step with its marker; the step the kill cut short holds exactly
    # the local run's parts and unit markers, nothing left over from the units in flight (the global steps' mark
    # files are cut by Ray Data's blocks, which vary from run to run, so only their markers are compared)
    assert storage.listdir(f"{output}/_stages") == sorted(os.listdir(dedup_run / "_stages"))
    for name in storage.listdir(f"{output}/_stages"):
        assert storage.isfile(f"{output}/_stages/{name}/_SUCCESS.json")
    assert storage.listdir(f"{output}/_stages/{CHAIN}") == sorted(os.listdir(dedup_run / "_stages" / CHAIN))
    assert _unit_markers(output) == sorted(os.listdir(dedup_run / "_stages" / CHAIN / "_units"))


@pytest.mark.slow
@pytest.mark.ray
def test_inspect_and_report_read_a_bucket(bucket_run):
    output, _, _ = bucket_run
    shown = run_cli("inspect", output)
    assert shown.returncode == 0, shown.stderr
    for expected in ("funnel", "exact_dedup", "near_duplicate", "schema: id", output):
        assert expected in shown.stdout
    report = run_cli("report", output, "--tokenizer", "estimate")
    assert report.returncode == 0, report.stderr
    assert f"{output}/report.html" in report.stdout
    assert "near_duplicate" in storage.read_text(f"{output}/report.html")


@pytest.mark.slow
@pytest.mark.ray
def test_pack_and_the_loader_read_a_bucket(bucket_run, dedup_run, tmp_path):
    pytest.importorskip("torch")
    from curate.feed.pack import PackConfig, pack_output
    from curate.loader import CurateDataset
    from tests.feed_output import train_tokenizer

    output, _, _ = bucket_run
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    remote = pack_output(output, PackConfig(tokenizer=tokenizer, seq_len=256))
    local = pack_output(str(dedup_run), PackConfig(tokenizer=tokenizer, seq_len=256, output=str(tmp_path / "packed")))
    packed = f"{output}/_packed"
    assert storage.isfile(f"{packed}/_pack.json") and remote.source == output
    assert [s.path for s in remote.shards] == [s.path for s in local.shards]
    assert read_frame(remote.files(packed)).equals(read_frame(local.files(str(tmp_path / "packed"))))

    documents = [item["id"] for item in CurateDataset(output)]
    assert documents == frames(str(dedup_run))[0]["id"].to_list()
    rows = [int(item["tokens"]) for item in CurateDataset(packed)]
    assert len(rows) == local.sequences and sum(rows) == sum(n * c for n, c in local.sequences_by_length.items()) \
        - local.padding_tokens
