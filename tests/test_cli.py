"""The command line's contract without Ray: exit codes 1 (a stage failed), 2 (bad input or configuration)
and 130 (interrupted), --debug, and bad Parquet input refused before Ray starts.

Most tests call the click command in this process with Ray's start and the run
replaced; one runs the real ``python -m curate.cli`` to show the same contract
holds for the installed entry point (it fails before starting Ray).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate import cli, ray_env, runner
from curate.runner import StageError
from tests.conftest import REPO, SAMPLE, run_cli, write_jsonl

PIPELINE = str(REPO / "pipelines" / "default.yaml")


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    """Run ``curate ARGS`` in this process; ``outcome`` is what run_pipeline does instead of running."""
    started = []
    monkeypatch.setattr(ray_env, "init_ray", lambda *args, **kwargs: started.append(kwargs))

    def call(*args: str, outcome: BaseException | None = None):
        def run_pipeline(config, **kwargs):
            raise outcome

        monkeypatch.setattr(runner, "run_pipeline", run_pipeline)
        result = CliRunner().invoke(cli.main, list(args), catch_exceptions=False)
        result.ray_started = bool(started)
        return result

    call.source = str(write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "one two three"}]))
    call.out = str(tmp_path / "out")
    return call


def test_a_failed_stage_exits_1_with_one_line_and_a_hint(invoke):
    result = invoke("run", PIPELINE, "-i", invoke.source, "-o", invoke.out,
                    outcome=StageError("stage 'rewrite' failed: model crashed"))
    assert result.exit_code == 1
    assert "error: stage 'rewrite' failed: model crashed" in result.stderr
    assert "re-run with --debug for the traceback" in result.stderr and "Traceback" not in result.stderr


def test_debug_shows_the_traceback(invoke):
    result = invoke("run", PIPELINE, "-i", invoke.source, "-o", invoke.out, "--debug",
                    outcome=StageError("stage 'rewrite' failed: model crashed"))
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr and "in run_pipeline" in result.stderr
    assert "error: stage 'rewrite' failed: model crashed" in result.stderr


def test_interrupted_run_exits_130_and_says_how_to_resume(invoke):
    result = invoke("run", PIPELINE, "-i", invoke.source, "-o", invoke.out, outcome=KeyboardInterrupt())
    assert result.exit_code == 130
    assert "interrupted; re-run the same command to resume" in result.stderr and "Traceback" not in result.stderr


def test_bad_input_found_during_the_run_exits_2(invoke):
    from curate.io.reader import InputError

    result = invoke("run", PIPELINE, "-i", invoke.source, "-o", invoke.out, "--strict",
                    outcome=InputError("in.jsonl:2: malformed JSON"))
    assert result.exit_code == 2 and "error: in.jsonl:2: malformed JSON" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["run", PIPELINE, "--input", "/no/such/path", "--output", "x"], "input path not found: /no/such/path"),
    (["run", "missing.yaml", "--input", str(SAMPLE), "--output", "x"], "pipeline file not found"),
    (["run", PIPELINE, "--set", "length_filter.min_wrds=3", "-o", "x"], "unknown parameter 'min_wrds'"),
    (["validate", PIPELINE, "--set", "exact_dedup.lowercase=maybe"], "lowercase"),
    (["stages", "no_such_stage"], "no_such_stage"),
])
def test_usage_errors_exit_2_with_one_clear_line(invoke, args, message):
    result = invoke(*args)
    assert result.exit_code == 2 and not result.ray_started
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_yaml_validate_and_stages(invoke, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - normalize: {\n")
    result = invoke("validate", str(bad))
    assert result.exit_code == 2 and "not valid YAML" in result.stderr
    valid = invoke("validate", PIPELINE)
    assert valid.exit_code == 0 and "default.yaml is valid (" in valid.stdout
    listing = invoke("stages")
    assert listing.exit_code == 0
    assert all(name in listing.stdout for name in ("normalize", "length_filter", "exact_dedup", "min_words"))


def _corrupt(folder):
    path = folder / "corrupt.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    return path, "corrupt.parquet: not a readable Parquet file"


def _numbers_as_text(folder):
    path = folder / "numbers.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": [1, 2]}), path)
    return path, "numbers.parquet: column 'text' is int64, expected a string column"


@pytest.mark.parametrize("make", [_corrupt, _numbers_as_text], ids=["corrupt", "non_string_text"])
def test_bad_parquet_is_refused_before_ray_starts(invoke, tmp_path, make):
    folder = tmp_path / "in"
    folder.mkdir()
    write_jsonl(folder / "good.jsonl", [{"id": "g", "text": "a good document"}])
    path, message = make(folder)
    result = invoke("run", PIPELINE, "-i", str(folder), "-o", invoke.out)
    assert result.exit_code == 2 and message in result.stderr
    assert not result.ray_started and "Traceback" not in result.stderr


def test_runner_checks_every_parquet_input_before_any_work(tmp_path):
    """The runner's own fail-fast pass (API users skip the CLI): nothing is written, Ray is not needed."""
    from curate.io.reader import InputError
    from curate.runner import Runner
    from curate.stages.normalize import Normalize

    write_jsonl(tmp_path / "a.jsonl", [{"id": "g", "text": "a good document"}])
    path, message = _numbers_as_text(tmp_path)
    with pytest.raises(InputError, match=message):
        Runner([str(tmp_path / "a.jsonl"), str(path)], str(tmp_path / "out"), [Normalize()]).run()
    assert not (tmp_path / "out").exists()


def test_the_real_entry_point_refuses_bad_parquet_with_exit_2(tmp_path):
    path, message = _corrupt(tmp_path)
    result = run_cli("run", PIPELINE, "--input", str(path), "--output", str(tmp_path / "out"), timeout=60)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
