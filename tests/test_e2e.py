"""End to end: the real CLI with a real local Ray, on a fifth of the bundled sample (dedup.yaml on all of it)."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.conftest import REPO, SAMPLE, kill_group, run_cli, start_cli, write_jsonl

pytestmark = [pytest.mark.slow, pytest.mark.ray]
PIPELINE = str(REPO / "pipelines" / "default.yaml")


def count_input_records(folder: Path) -> int:
    """Records in the input folder, counted without curate."""
    total = 0
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            total += pq.ParquetFile(path).metadata.num_rows
        elif path.suffix == ".zst":
            total += len(_lines(path))
        else:
            total += sum(1 for line in path.read_text().splitlines() if line.strip())
    return total


def _lines(path: Path) -> list[str]:
    with open(path, "rb") as handle:
        text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(handle), encoding="utf-8")
        return [line for line in text if line.strip()]


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    """The first records of every sample file, in the sample's formats (JSONL.zst and Parquet), plus an exact
    duplicate and a too-short document: every stage of the default pipeline has work, at a fifth of the
    sample's cost (the runner and the CLI are under test here; the stages have their own tests). The
    documents the rewrite stage picks on the whole sample are included, so it picks the same ones here."""
    from curate.stages.rewrite import selection_key

    folder = tmp_path_factory.mktemp("subset")
    picked = _rewrite_picks(selection_key, 5)
    for path in sorted(SAMPLE.iterdir()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            keep = [i for i, doc_id in enumerate(table.column("id").to_pylist()) if i < 150 or doc_id in picked]
            pq.write_table(table.take(keep), folder / path.name)
        else:
            lines = [line for i, line in enumerate(_lines(path)) if i < 40 or json.loads(line)["id"] in picked]
            (folder / path.name).write_bytes(zstandard.ZstdCompressor().compress("".join(lines).encode()))
    first = json.loads(_lines(SAMPLE / "bbc_news.jsonl.zst")[0])
    write_jsonl(folder / "extra.jsonl", [dict(first, id="copy-of-the-first-bbc-article"),
                                         {"id": "short", "text": "too short"}])
    return folder


def _rewrite_picks(selection_key, count: int) -> set[str]:
    """The ids with the smallest selection keys in the whole sample (a few spare, for documents dropped earlier)."""
    ids = []
    for path in sorted(SAMPLE.iterdir()):
        if path.suffix == ".parquet":
            ids += pq.read_table(path, columns=["id"]).column("id").to_pylist()
        else:
            ids += [json.loads(line)["id"] for line in _lines(path)]
    return set(sorted(ids, key=lambda doc_id: selection_key(doc_id, 0))[:count])


def frames(out) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(f"{out}/*.parquet"), pl.read_parquet(f"{out}/_dropped/*.parquet")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, subset):
    out = tmp_path_factory.mktemp("run") / "out"
    before = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in subset.iterdir())
    result = run_cli("run", PIPELINE, "--input", str(subset), "--output", str(out))
    assert result.returncode == 0, result.stderr
    # the run writes under its output folder only: the input and the folder around the output are untouched
    assert [p.name for p in out.parent.iterdir()] == ["out"]
    assert sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in subset.iterdir()) == before
    return out, result


def test_every_document_is_accounted_for(first_run, subset):
    out, result = first_run
    manifest = json.loads((out / "_manifest.json").read_text())
    kept, dropped = frames(out)
    expected = count_input_records(subset)
    docs = manifest["documents"]
    assert docs["input"] == expected
    assert docs["input"] + docs["created"] == kept.height + dropped.height
    entigraph = next(s for s in manifest["stages"] if s["name"] == "entigraph")
    assert docs["created"] == entigraph["created"]
    if docs["created"]:
        assert docs["created"] == kept.filter(pl.col("created_by") == "entigraph").height
    assert docs["output"] == kept.height and docs["dropped"] == dropped.height
    assert kept["id"].n_unique() == kept.height
    assert set(dropped["stage"]) <= {"read", "normalize", "length_filter", "gopher_quality", "exact_dedup",
                                     "minhash_dedup", "quality", "toxicity", "rewrite", "entigraph", "icp_reorder"}
    assert "embedding" not in kept.columns  # a working column, left out of the output
    assert dropped.filter(pl.col("reason") == "exact_duplicate")["duplicate_of"].null_count() == 0
    assert [s["name"] for s in manifest["stages"]] == [
        "read", "normalize", "length_filter", "language", "gopher_quality", "gopher_repetition", "fineweb_filter",
        "exact_dedup", "minhash_dedup", "pii", "rewrite", "entigraph", "embed", "quality", "toxicity", "profanity", "icp_reorder"]
    rewrite = next(s for s in manifest["stages"] if s["name"] == "rewrite")
    assert rewrite["stats"]["rewritten"] == rewrite["params"]["max_documents"]
    # rewritten documents are kept, or dropped by rewrite or by the judgments after it (quality, toxicity)
    later = dropped.filter(pl.col("stage").is_in(["rewrite", "quality", "toxicity"])).height
    assert 0 < kept["rewritten"].sum() <= rewrite["stats"]["rewritten"] <= kept["rewritten"].sum() + later
    assert manifest["inputs"] and all(f["bytes"] > 0 for f in manifest["inputs"])
    assert "in =" in result.stdout and "out +" in result.stdout
    # users see curate's lines only: no error-level lines of Ray's own workers
    assert not re.search(r"\[[^\]\n]* E \d+ \d+\]|^E\d{4} |core_worker\.cc", result.stderr, re.M), result.stderr
    # written in in-context-pretraining order: whole contexts, numbered along the output
    icp = manifest["stages"][-1]["stats"]
    assert icp["repeats"] == 0 and icp["missing"] == 0 and icp["embedder"] == "column embedding"
    assert kept["context_id"].to_list() == sorted(kept["context_id"].to_list())
    assert icp["adjacent_similarity"] > icp["random_similarity"]


def test_killed_run_resumes_to_the_same_output_as_an_uninterrupted_run(first_run, subset, tmp_path):
    out, _ = first_run
    target = tmp_path / "killed"
    process = start_cli("run", PIPELINE, "--input", str(subset), "--output", str(target))
    marker = target / "_stages" / ("00-read+normalize+length_filter+language+gopher_quality+gopher_repetition"
                                   "+fineweb_filter") / "_SUCCESS.json"
    deadline = time.time() + 240
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    kill_group(process)
    assert marker.exists()
    finished_before_the_kill = (target / "_manifest.json").exists()

    if not finished_before_the_kill:
        result = run_cli("run", PIPELINE, "--input", str(subset), "--output", str(target))
        assert result.returncode == 0, result.stderr
        manifest = json.loads((target / "_manifest.json").read_text())
        resumed = [s["resumed"] for s in manifest["stages"]]
        assert resumed[:7] == [True] * 7 and resumed[-1] is False
    # the same input and configuration give the same output, resumed or not
    for a, b in zip(frames(out), frames(target)):
        assert a.equals(b)


def test_ctrl_c_stops_cleanly_and_the_run_resumes(first_run, subset, tmp_path):
    """Ctrl-C as a terminal sends it (SIGINT to the whole process group) once the first step is done."""
    out, _ = first_run
    target = tmp_path / "interrupted"
    command = [sys.executable, "-m", "curate.cli", "run", PIPELINE, "--input", str(subset), "--output", str(target)]
    process = subprocess.Popen(command, cwd=REPO, env=dict(os.environ, RAY_AUTH_MODE="disabled"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    marker = target / "_stages" / ("00-read+normalize+length_filter+language+gopher_quality+gopher_repetition"
                                   "+fineweb_filter") / "_SUCCESS.json"
    deadline = time.time() + 240
    while not marker.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert marker.exists() and process.poll() is None  # the later steps take far longer than the first
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted; re-run the same command to resume" in stderr and "Traceback" not in stderr, stderr
    assert not (target / "_manifest.json").exists()
    result = run_cli("run", PIPELINE, "--input", str(subset), "--output", str(target))
    assert result.returncode == 0, result.stderr
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
    # the reader is under test here, not the stages: a one-stage pipeline
    light = tmp_path / "light.yaml"
    light.write_text("stages:\n  - normalize: {}\n")
    result = run_cli("run", str(light), "--input", str(source), "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    kept, dropped = frames(tmp_path / "out")
    assert kept["id"].to_list() == ["a"]
    assert sorted(dropped["reason"].to_list()) == ["duplicate_id", "invalid_utf8", "malformed_json", "null_text"]

    strict = run_cli("run", str(light), "--input", str(source), "--output", str(tmp_path / "strict"), "--strict")
    assert strict.returncode == 2
    assert "in.jsonl:2: malformed JSON" in strict.stderr and "Traceback" not in strict.stderr


def test_dedup_pipeline_accounts_for_near_duplicates(dedup_run):
    out = dedup_run
    manifest = json.loads((out / "_manifest.json").read_text())
    kept, dropped = frames(out)
    assert manifest["documents"]["input"] == kept.height + dropped.height == count_input_records(SAMPLE)
    near = dropped.filter(pl.col("reason") == "near_duplicate")
    stats = manifest["stages"][-1]["stats"]
    assert near.height == stats["documents_removed"] > 0
    assert near["duplicate_of"].is_in(kept["id"].implode()).all()
