"""Faults under load: each gives one clear error (no traceback, a message that says what to do), never a hang,
never an unfinished output presented as complete (no ``_manifest.json``), and the same command, run again once
the cause is fixed, resumes to the output of an undisturbed run.

Small inputs throughout: the runner's fault handling is under test here, not the stages.
"""

from __future__ import annotations

import errno
import os
import random
import shutil
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import main
from curate.io import storage
from curate.manifest import MANIFEST, read_manifest
from curate.runner import Runner
from curate.stage import MapStage, StageParams
from curate.stages.exact_dedup import ExactDedup
from curate.stages.normalize import Normalize, NormalizeParams
from tests.conftest import kill_group, run_cli, start_cli, write_jsonl
from tests.s3_server import free_port

WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()
PIPELINE = """stages:
  - normalize: {}
  - length_filter: {min_words: 3}
  - exact_dedup: {}
  - minhash_dedup: {threshold: 0.8}
"""


def write_corpus(folder: Path, files: int = 6, per_file: int = 40) -> Path:
    """``files`` JSONL files of random word documents, with short ones and exact duplicates across files."""
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        records = []
        for i in range(per_file):
            n = f * per_file + i
            text = " ".join(rng.choice(WORDS) for _ in range(30)) if n % 9 else "short text"
            if n % 13 == 0 and n:
                text = "the same document repeated in several files of the corpus"
            records.append({"id": f"d{n:04d}", "text": text})
        write_jsonl(folder / f"part{f}.jsonl", records)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("faults") / "in")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "pipeline.yaml"
    path.write_text(PIPELINE)
    return path


def frames(out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(f"{out}/*.parquet"), pl.read_parquet(f"{out}/_dropped/*.parquet")


def same_output(a: Path, b: Path) -> None:
    """Two finished runs wrote the same rows, the same drops and the same counts."""
    for left, right in zip(frames(a), frames(b)):
        assert left.equals(right)
    first, second = read_manifest(str(a)), read_manifest(str(b))
    assert first.documents == second.documents
    assert [(r["path"], r["rows"]) for r in first.output.model_dump()["shards"]] == \
        [(r["path"], r["rows"]) for r in second.output.model_dump()["shards"]]
    assert [(r.name, r.documents_in, r.documents_out, r.created, r.dropped) for r in first.stages] == \
        [(r.name, r.documents_in, r.documents_out, r.created, r.dropped) for r in second.stages]


def one_clear_error(stderr: str, *expected: str) -> None:
    """The console shows curate's error and nothing of Python's."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    for text in expected:
        assert text in stderr, stderr


# ---------------------------------------------------------------- 1. an output folder that cannot be written


@pytest.mark.ray
@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_an_output_folder_that_cannot_be_written(corpus, pipeline, tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    out = parent / "out"
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        result = run_cli("run", str(pipeline), "--input", str(corpus), "--output", str(out))
    finally:
        parent.chmod(stat.S_IRWXU)
    assert result.returncode == 1
    one_clear_error(result.stderr, f"{out}: cannot write there: permission denied on {parent}",
                    "re-run the same command")
    assert not out.exists()
    again = run_cli("run", str(pipeline), "--input", str(corpus), "--output", str(out))
    assert again.returncode == 0, again.stderr
    assert (out / MANIFEST).exists()


def test_an_output_path_through_a_file_is_refused_before_the_run(tmp_path):
    """Without Ray: a file where the output folder should be is refused by the check `curate run` makes first."""
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    with pytest.raises(storage.StorageError, match="is a file"):
        storage.probe(str(blocker / "out"))
    storage.probe(str(tmp_path / "new" / "out"))  # a folder still to be created is fine
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- 2. a full disk


def test_a_full_disk_is_one_storage_error_naming_the_path(tmp_path, monkeypatch):
    """Without Ray: ENOSPC from the OS or from pyarrow, in any local write, becomes a StorageError with the path;
    the unfinished file is thrown away."""
    from curate.io import atomic

    def full(self, table, *args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(pq.ParquetWriter, "write_table", full)
        with pytest.raises(storage.StorageError, match=r"part\.parquet: no space left on device \(free some space"):
            atomic.write_table(pa.table({"x": [1, 2]}), str(tmp_path / "part.parquet"))
    assert os.listdir(tmp_path) == []
    with pytest.raises(storage.StorageError, match="x.tmp: no space left on device"):
        with storage.local_writes(str(tmp_path / "x")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "x.tmp"))
    with pytest.raises(FileNotFoundError):  # not the user's disk to fix: passed on as it is
        with storage.local_writes(str(tmp_path / "x")):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(tmp_path / "x"))
    if os.path.exists("/dev/full"):  # a real full device: its writes fail with ENOSPC
        with open("/dev/full", "wb", buffering=0) as device, pytest.raises(storage.StorageError,
                                                                          match="/dev/full: no space left"):
            with storage.local_writes("/dev/full"):
                device.write(b"x")


@pytest.fixture
def full_disk_after(monkeypatch):
    """``arm(folder)``: the driver's disk is full when it writes the second output shard under ``folder``."""
    real = pq.ParquetWriter.write_table
    state: dict = {"folder": None}

    def write_table(self, table, *args, **kwargs):
        where = str(getattr(self, "where", ""))
        if state["folder"] and where.startswith(state["folder"]) and "_stages" not in where:
            if os.path.basename(where).startswith("part-00001"):
                raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
        return real(self, table, *args, **kwargs)

    def arm(folder: Path | None) -> None:
        state["folder"] = str(folder) if folder is not None else None

    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)
    yield arm
    state["folder"] = None


def test_a_full_disk_while_writing_the_output_stops_and_resumes(ray_session, corpus, pipeline, tmp_path,
                                                                full_disk_after):
    clean, out = tmp_path / "clean", tmp_path / "out"
    command = ["run", str(pipeline), "--input", str(corpus), "--set", "writer.rows_per_shard=50"]
    first = CliRunner().invoke(main, [*command, "--output", str(clean)])
    assert first.exit_code == 0, first.output
    full_disk_after(out)  # the second shard does not fit
    failed = CliRunner().invoke(main, [*command, "--output", str(out)])
    assert failed.exit_code == 1, failed.output
    one_clear_error(failed.stderr, f"{out}/part-00001.parquet: no space left on device",
                    "re-run the same command to resume")
    # nothing presented as complete: no manifest, no shard (the first, complete one, is taken back too)
    assert not (out / MANIFEST).exists()
    assert sorted(p.name for p in out.iterdir()) == ["_dropped", "_stages"]
    assert list((out / "_dropped").iterdir()) == []
    assert all((step / "_SUCCESS.json").exists() for step in (out / "_stages").iterdir())

    full_disk_after(None)  # space freed
    resumed = CliRunner().invoke(main, [*command, "--output", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert all(stage.resumed for stage in read_manifest(str(out)).stages)
    same_output(clean, out)


class FullDiskParams(StageParams):
    part: str  # the path of the checkpoint part that does not fit
    flag: str  # the disk is full while this file exists


class FullDiskForOnePart(MapStage[FullDiskParams]):
    """Leaves rows as they are; in its worker processes, writing ``part`` fails with ENOSPC while ``flag`` exists."""

    name = "full_disk"
    Params = FullDiskParams

    def setup(self) -> None:
        _FULL.add((self.params.part, self.params.flag))
        if not getattr(pq.ParquetWriter.write_table, "full_disk", False):
            real = pq.ParquetWriter.write_table

            def write_table(writer, table, *args, **kwargs):
                path = str(getattr(writer, "where", "")).removesuffix(".tmp")
                if any(path == part and os.path.exists(flag) for part, flag in _FULL):
                    raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
                return real(writer, table, *args, **kwargs)

            write_table.full_disk = True  # type: ignore[attr-defined]
            pq.ParquetWriter.write_table = write_table

    def process_batch(self, batch: pa.Table) -> pa.Table:
        return batch


_FULL: set[tuple[str, str]] = set()


def test_a_full_disk_in_a_worker_stops_the_run_and_the_rerun_resumes(ray_session, tmp_path):
    """A Ray worker writing a checkpoint part hits ENOSPC: one StorageError naming the part, no partial part, no
    manifest; with space again, the same run resumes the units that had finished."""
    from curate.documents import order_of

    corpus = write_corpus(tmp_path / "in")
    out = tmp_path / "out"
    step = out / "_stages" / "00-read+full_disk+normalize"
    part = step / f"{order_of(3, 0):020d}.parquet"  # the fourth input file's part
    flag = tmp_path / "disk-is-full"
    stages = [FullDiskForOnePart(part=str(part), flag=str(flag)), Normalize(), ExactDedup()]
    Runner([str(corpus)], str(tmp_path / "clean"), stages).run()
    flag.touch()
    with pytest.raises(storage.StorageError) as failed:
        Runner([str(corpus)], str(out), stages).run()
    assert str(failed.value) == f"{part}: no space left on device (free some space, or choose another --output)"
    assert not (out / MANIFEST).exists() and not (step / "_SUCCESS.json").exists()
    assert not part.exists() and not Path(f"{part}.tmp").exists()
    finished = len(list((step / "_units").glob("*.json")))  # the units that were done before the fault
    flag.unlink()  # space freed
    manifest = Runner([str(corpus)], str(out), stages).run()
    assert manifest.stages[0].parts == 6 and manifest.stages[0].parts_resumed == finished
    same_output(tmp_path / "clean", out)


# ---------------------------------------------------------------- 3. an input file removed mid-run


class RemovingParams(NormalizeParams):
    victim: str
    done: str  # created once the victim is removed, so that a re-run of the same stages removes nothing


class RemovingNormalize(Normalize):
    """normalize, and removes ``victim`` (an input file) once, when it has seen a batch of another file."""

    Params = RemovingParams

    def process_batch(self, batch: pa.Table) -> pa.Table:
        victim, done = self.params.victim, self.params.done
        if not os.path.exists(done) and os.path.basename(victim) not in batch.column("source").to_pylist():
            os.remove(victim)
            Path(done).touch()
        return super().process_batch(batch)


class RemovingExactDedup(ExactDedup):
    """exact_dedup, after removing ``victim``: runs on the driver once reading has finished."""

    def run(self, dataset):
        if os.path.exists(self.victim):
            os.remove(self.victim)
        return super().run(dataset)

    victim = ""


def test_an_input_removed_before_it_was_read_fails_naming_it(ray_session, tmp_path):
    corpus = write_corpus(tmp_path / "in")
    clean = Runner([str(corpus)], str(tmp_path / "clean"), [Normalize(), ExactDedup()]).run()
    victim = corpus / "part5.jsonl"  # the last file: read after the others have started
    saved = victim.read_bytes()
    out = tmp_path / "out"
    stages = [RemovingNormalize(victim=str(victim), done=str(tmp_path / "removed")), ExactDedup()]
    try:
        manifest = Runner([str(corpus)], str(out), stages).run()
    except Exception as exc:  # the usual case: the file was gone before its turn came
        from curate.errors import InputError

        assert isinstance(exc, InputError), exc
        assert str(exc) == (f"input file {victim} was removed after the run started; restore it, or re-run the same "
                            "command to read the inputs as they are now")
        assert not (out / MANIFEST).exists()
        victim.write_bytes(saved)  # restored: a new modification time, so the reading step runs again
        manifest = Runner([str(corpus)], str(out), stages).run()
        assert not manifest.stages[0].resumed and manifest.stages[0].parts_resumed == 0
    # either way the output holds the file as it was read, whole
    assert manifest.documents == clean.documents
    same_output(tmp_path / "clean", out)


def test_an_input_removed_after_it_was_read_leaves_a_consistent_output(ray_session, tmp_path):
    corpus = write_corpus(tmp_path / "in")
    clean = Runner([str(corpus)], str(tmp_path / "clean"), [Normalize(), ExactDedup()]).run()
    victim = corpus / "part2.jsonl"
    remover = RemovingExactDedup()
    remover.victim = str(victim)
    out = tmp_path / "out"
    manifest = Runner([str(corpus)], str(out), [Normalize(), remover]).run()
    assert not victim.exists()
    # the run finishes with what it read, and its manifest records the file as read
    same_output(tmp_path / "clean", out)
    assert manifest.documents == clean.documents
    assert [i.path for i in manifest.inputs] == [i.path for i in clean.inputs]
    # the next run reads the inputs as they are now: the removed file's documents are gone
    again = Runner([str(corpus)], str(out), [Normalize(), ExactDedup()]).run()
    assert not again.stages[0].resumed and again.documents.input == clean.documents.input - 40


def test_a_task_error_reaches_the_user_as_its_own_message():
    """Ray's wrapper of a task's InputError is an InputError too, but its text is the task's traceback."""
    from ray.exceptions import RayTaskError

    from curate.engine.errors import unwrap
    from curate.errors import InputError

    cause = InputError("in.jsonl:2: malformed JSON")
    trace = 'Traceback (most recent call last):\n  File "reader.py", line 1\ncurate.errors.InputError: in.jsonl:2: ...'
    wrapped = RayTaskError("_unit_task", trace, cause).as_instanceof_cause()
    assert isinstance(wrapped, InputError) and "File" in str(wrapped)
    assert str(unwrap(wrapped, "read")) == "in.jsonl:2: malformed JSON"
    full = storage.StorageError("/out/_stages/00-read/0.parquet: no space left on device")
    error = unwrap(RayTaskError("_unit_task", trace, full).as_instanceof_cause(), "read")
    assert isinstance(error, storage.StorageError) and str(error) == str(full)


def test_an_input_that_changed_before_it_was_read_fails_naming_it(tmp_path):
    """Without Ray: the reader reads a file only as the run listed it."""
    from curate.errors import InputError
    from curate.io.reader import ReaderConfig, read_file, resolve_inputs

    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": "one two three"}])
    file = resolve_inputs([str(path)])[0]
    listed = path.stat().st_size
    write_jsonl(path, [{"id": "a", "text": "one two three"}, {"id": "b", "text": "appended later"}])
    with pytest.raises(InputError, match=rf"input file {path} changed after the run started \({listed} bytes when "
                                         rf"listed, {path.stat().st_size} now\); re-run the same command"):
        list(read_file(0, file, ReaderConfig()))
    path.unlink()
    with pytest.raises(InputError, match=rf"input file {path} was removed after the run started"):
        list(read_file(0, file, ReaderConfig()))


# ---------------------------------------------------------------- 4. an object store that cannot be reached


def test_an_unreachable_endpoint_fails_at_once_without_a_retry_storm(tmp_path, monkeypatch):
    """A closed port on 127.0.0.1, with the client's default retries: one clear error, no traceback."""
    pytest.importorskip("s3fs", reason="needs s3fs: pip install 'curate[s3]'")
    for key in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE)
    result = run_cli("run", str(pipeline), "--input", "s3://nowhere/raw", "--output", str(tmp_path / "out"),
                     timeout=120)  # a hang fails here
    assert result.returncode == 1
    one_clear_error(result.stderr, "s3://nowhere/raw: cannot reach the object store at http://127.0.0.1:")
    assert not (tmp_path / "out").exists()


class DroppingServer:
    """A TCP server on 127.0.0.1 that accepts each connection and closes it at once, counting them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_an_endpoint_that_drops_connections_is_tried_a_bounded_number_of_times(monkeypatch):
    pytest.importorskip("s3fs", reason="needs s3fs: pip install 'curate[s3]'")
    server = DroppingServer()
    for key in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(storage, "_FILESYSTEMS", {})
    try:
        with pytest.raises(storage.StorageError, match=f"s3://nowhere/x: cannot reach the object store at "
                                                       f"http://127.0.0.1:{server.port}"):
            storage.probe("s3://nowhere/x")
    finally:
        server.close()
    # one request, tried S3_ATTEMPTS times by botocore in each of s3fs's S3FS_TRIES, each try on at most two
    # connections (the HTTP client tries a connection closed before the response once more); with the libraries'
    # defaults it was 50 connections
    assert 0 < server.connections <= 2 * storage.S3_ATTEMPTS * storage.S3FS_TRIES


# ---------------------------------------------------------------- 5. the driver killed at random points


def kills_then_resume(corpus: Path, pipeline: Path, tmp_path: Path, kills: int, seed: int) -> None:
    """Run the pipeline, SIGKILL the run (driver, Ray and workers) at ``kills`` random points, each followed by the
    same command, and check that the final output and manifest are those of an undisturbed run.

    A kill point is a moment drawn at random over the undisturbed run's duration, counted from the start of the
    command: the points fall where the run spends its time (starting Ray, each step, the output). After every
    kill, an output with a manifest must be the finished one; the next point then starts a new run.
    """
    clean, out = tmp_path / "clean", tmp_path / "out"
    command = ["run", str(pipeline), "--input", str(corpus), "--num-cpus", "2"]
    started = time.monotonic()
    result = run_cli(*command, "--output", str(clean))
    assert result.returncode == 0, result.stderr
    duration = time.monotonic() - started
    rng = random.Random(seed)
    states = []
    for _ in range(kills):
        process = start_cli(*command, "--output", str(out))
        try:
            process.wait(timeout=rng.uniform(0, duration))
        except subprocess.TimeoutExpired:
            pass
        kill_group(process)
        steps = len(list((out / "_stages").glob("*/_SUCCESS.json")))
        states.append((steps, (out / MANIFEST).exists()))
        if (out / MANIFEST).exists():  # the run had finished before the kill: the next point starts a new run
            same_output(clean, out)
            shutil.rmtree(out)
    print(f"after each kill (steps finished, run finished): {states}")
    result = run_cli(*command, "--output", str(out))
    assert result.returncode == 0, result.stderr
    same_output(clean, out)


KILLS = int(os.environ.get("CURATE_TEST_KILLS", "3"))


@pytest.mark.ray
def test_a_run_killed_at_random_points_resumes_to_the_same_output(corpus, pipeline, tmp_path):
    kills_then_resume(corpus, pipeline, tmp_path, kills=KILLS, seed=1)


@pytest.mark.slow
@pytest.mark.ray
def test_a_run_killed_at_ten_random_points_resumes_to_the_same_output(corpus, pipeline, tmp_path):
    kills_then_resume(corpus, pipeline, tmp_path, kills=10, seed=2)
