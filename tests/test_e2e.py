"""End to end: the real CLI on the bundled sample with a real local Ray."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.conftest import REPO, SAMPLE, run_cli, write_jsonl

pytestmark = pytest.mark.slow
PIPELINE = str(REPO / "pipelines" / "default.yaml")


def count_input_records() -> int:
    """Records in the sample, counted without curate."""
    total = 0
    for path in sorted(SAMPLE.iterdir()):
        if path.suffix == ".parquet":
            total += pq.ParquetFile(path).metadata.num_rows
        else:
            with open(path, "rb") as handle:
                text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(handle), encoding="utf-8")
                total += sum(1 for line in text if line.strip())
    return total


def frames(out) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(f"{out}/*.parquet"), pl.read_parquet(f"{out}/_dropped/*.parquet")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = run_cli("run", PIPELINE, "--input", str(SAMPLE), "--output", str(out))
    assert result.returncode == 0, result.stderr
    return out, result


def test_every_document_is_accounted_for(first_run):
    out, result = first_run
    manifest = json.loads((out / "_manifest.json").read_text())
    kept, dropped = frames(out)
    expected = count_input_records()
    docs = manifest["documents"]
    assert docs["input"] == expected == kept.height + dropped.height
    assert docs["output"] == kept.height and docs["dropped"] == dropped.height
    assert kept["id"].n_unique() == kept.height
    assert set(dropped["stage"]) <= {"read", "normalize", "length_filter", "exact_dedup", "quality", "toxicity",
                                     "rewrite", "icp_reorder"}
    assert dropped.filter(pl.col("reason") == "exact_duplicate")["duplicate_of"].null_count() == 0
    assert [s["name"] for s in manifest["stages"]] == [
        "read", "normalize", "length_filter", "exact_dedup", "quality", "toxicity", "rewrite", "icp_reorder"]
    rewrite = manifest["stages"][-2]
    assert rewrite["stats"]["rewritten"] == rewrite["params"]["max_documents"]
    assert kept["rewritten"].sum() + dropped.filter(pl.col("stage") == "rewrite").height == rewrite["stats"]["rewritten"]
    assert manifest["inputs"] and all(f["bytes"] > 0 for f in manifest["inputs"])
    assert "in =" in result.stdout and "out +" in result.stdout
    # written in in-context-pretraining order: whole contexts, numbered along the output
    icp = manifest["stages"][-1]["stats"]
    assert icp["repeats"] == 0 and icp["missing"] == 0 and icp["embedder"] == "minilm"
    assert kept["context_id"].to_list() == sorted(kept["context_id"].to_list())
    assert icp["adjacent_similarity"] > icp["random_similarity"]


def test_same_input_and_config_give_same_output(first_run, tmp_path):
    out, _ = first_run
    result = run_cli("run", PIPELINE, "--input", str(SAMPLE), "--output", str(tmp_path / "again"))
    assert result.returncode == 0, result.stderr
    for a, b in zip(frames(out), frames(tmp_path / "again")):
        assert a.equals(b)


def test_killed_run_resumes_to_the_same_output(first_run, tmp_path):
    out, _ = first_run
    target = tmp_path / "killed"
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    process = subprocess.Popen(
        [sys.executable, "-m", "curate.cli", "run", PIPELINE, "--input", str(SAMPLE), "--output", str(target)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    marker = target / "_stages" / "00-read+normalize+length_filter" / "_SUCCESS.json"
    deadline = time.time() + 240
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert marker.exists()
    if (target / "_manifest.json").exists():
        pytest.skip("the run finished before it could be killed")

    result = run_cli("run", PIPELINE, "--input", str(SAMPLE), "--output", str(target))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((target / "_manifest.json").read_text())
    resumed = [s["resumed"] for s in manifest["stages"]]
    assert resumed[:3] == [True, True, True] and resumed[-1] is False
    for a, b in zip(frames(out), frames(target)):
        assert a.equals(b)


def test_inspect_shows_funnel_and_reasons(first_run):
    out, _ = first_run
    result = run_cli("inspect", str(out))
    assert result.returncode == 0, result.stderr
    for expected in ("funnel", "length_filter", "exact_dedup", "too_few_words", "exact_duplicate", "schema: id"):
        assert expected in result.stdout


def test_bad_input_is_quarantined_through_the_cli(tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "text": "a perfectly ordinary document with enough words"},
        "{not json", {"id": "b", "text": None}, b'{"id": "c", "text": "bad \xff byte"}', {"id": "a", "text": "reused id"},
    ])
    result = run_cli("run", PIPELINE, "--input", str(source), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    kept, dropped = frames(tmp_path / "out")
    assert kept["id"].to_list() == ["a"]
    assert sorted(dropped["reason"].to_list()) == ["duplicate_id", "invalid_utf8", "malformed_json", "null_text"]

    strict = run_cli("run", PIPELINE, "--input", str(source), "--output", str(tmp_path / "strict"), "--strict")
    assert strict.returncode == 2
    assert "in.jsonl:2: malformed JSON" in strict.stderr and "Traceback" not in strict.stderr


@pytest.mark.parametrize("args, message", [
    (["run", PIPELINE, "--input", "/no/such/path", "--output", "x"], "input path not found: /no/such/path"),
    (["run", "missing.yaml", "--input", str(SAMPLE), "--output", "x"], "pipeline file not found"),
    (["run", PIPELINE, "--set", "length_filter.min_wrds=3", "-o", "x"], "unknown parameter 'min_wrds'"),
    (["validate", PIPELINE, "--set", "exact_dedup.lowercase=maybe"], "lowercase"),
])
def test_usage_errors_are_one_clear_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_bad_yaml_and_validate_and_stages(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - normalize: {\n")
    result = run_cli("validate", str(bad))
    assert result.returncode == 2 and "not valid YAML" in result.stderr
    assert run_cli("validate", PIPELINE).returncode == 0
    listing = run_cli("stages")
    assert listing.returncode == 0
    assert all(name in listing.stdout for name in ("normalize", "length_filter", "exact_dedup", "min_words"))


def test_dedup_pipeline_accounts_for_near_duplicates(tmp_path):
    out = tmp_path / "dedup"
    result = run_cli("run", str(REPO / "pipelines" / "dedup.yaml"), "--input", str(SAMPLE), "--output", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "_manifest.json").read_text())
    kept, dropped = frames(out)
    assert manifest["documents"]["input"] == kept.height + dropped.height == count_input_records()
    near = dropped.filter(pl.col("reason") == "near_duplicate")
    stats = manifest["stages"][-1]["stats"]
    assert near.height == stats["documents_removed"] > 0
    assert near["duplicate_of"].is_in(kept["id"].implode()).all()
