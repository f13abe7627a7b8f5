"""The rewrite stage with the real SmolLM2-135M model through llama.cpp, alone and in a Ray pipeline."""

import json

import polars as pl
import pytest

from curate.stage import DROP_REASON
from curate.stages.rewrite import RewriteParams, Rewriter
from curate.stages.rewrite.presets import LineLM
from tests.conftest import REPO, documents, run_cli

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (make install-test installs it)")


@pytest.fixture(scope="module")
def smol_lm():
    from curate.lm import LMConfig, load_lm

    lm = load_lm(LMConfig(n_ctx=2048), threads=2)
    yield lm
    lm.close()


WEB_PAGE = """Installing the package
Home
Next
Up
Installing the package
To install the package, download the archive and unpack it into a folder of your choice.
Then run the setup program, which asks for an installation directory and a license key.
The program copies the files and creates a shortcut in the start menu.
Prev
Home
Next"""


@pytest.mark.slow
@pytest.mark.model
def test_line_lm_preset_with_smollm2(smol_lm):
    params = RewriteParams(preset="line_lm", chunk_tokens=64, max_errors=2, min_words=0)  # even short texts
    out = Rewriter(params, smol_lm).process(documents([WEB_PAGE, "A short clean note about the weather today."]))
    rows = out.to_pylist()
    # the probabilities are the model's: P(boilerplate) of a navigation word is above that of a sentence
    scores = LineLM(params, smol_lm).line_probabilities({0: WEB_PAGE.split("\n")})[0]
    assert scores[1] > scores[6]
    # judged against labels written by hand: no sentence of the page's own text is removed, nothing is dropped
    assert all(row[DROP_REASON] is None and row["rewritten"] for row in rows)
    kept = rows[0]["text"].split("\n")
    assert all(sentence in kept for sentence in WEB_PAGE.split("\n")[5:8])
    assert rows[1]["text"] == "A short clean note about the weather today."


@pytest.mark.slow
@pytest.mark.model
def test_instruct_preset_with_smollm2_always_parses_under_the_grammar(smol_lm):
    decision = Rewriter(RewriteParams(preset="instruct", chunk_level=False, doc_max_new_tokens=8), smol_lm)
    doc = decision.process(documents([WEB_PAGE])).to_pylist()[0]
    assert doc["rewrite_doc_program"] in ("keep_doc()", "drop_doc()") and doc["rewrite_parse_errors"] == 0
    params = RewriteParams(preset="instruct", document_level=False, chunk_tokens=30, chunk_max_new_tokens=24)
    out = Rewriter(params, smol_lm).process(documents([WEB_PAGE])).to_pylist()[0]
    assert out["rewrite_parse_errors"] == 0
    assert len(out["rewrite_programs"]) >= 2 and out["rewrite_generated_tokens"] > 0


@pytest.mark.slow
@pytest.mark.ray
def test_rewrite_in_a_pipeline_with_ray(tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "stages:\n  - normalize: {}\n  - rewrite:\n      max_documents: 2\n"
        "      chunk_tokens: 200\n      keep_original: true\n")
    out = tmp_path / "out"
    result = run_cli("run", str(pipeline), "--input", str(REPO / "data" / "sample" / "bbc_news.jsonl.zst"),
                     "--output", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "_manifest.json").read_text())
    stats = manifest["stages"][-1]["stats"]
    assert stats["rewritten"] == 2 and stats["documents"] == manifest["documents"]["input"]
    frame = pl.read_parquet(f"{out}/*.parquet")
    dropped = stats["dropped"]
    assert frame.height == stats["documents"] - dropped
    unselected = frame.filter(~pl.col("rewritten"))
    assert unselected.height >= stats["documents"] - 2
    assert (unselected["text"] == unselected["original_text"]).all()
    # the same seed selects the same documents, whatever the batching (the model passes are off here: the
    # selection does not depend on them, and the second run stays short)
    other = tmp_path / "other.yaml"
    other.write_text("stages:\n  - normalize: {}\n  - rewrite:\n      max_documents: 2\n      batch_size: 1\n"
                     "      document_level: false\n      chunk_level: false\n")
    again = run_cli("run", str(other), "--input", str(REPO / "data" / "sample" / "bbc_news.jsonl.zst"),
                    "--output", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    second = pl.read_parquet(f"{tmp_path / 'again'}/*.parquet")
    selected = set(frame.filter(pl.col("rewritten"))["id"])
    if dropped:
        drops = pl.read_parquet(f"{out}/_dropped/*.parquet")
        selected |= set(drops.filter(pl.col("stage") == "rewrite")["id"])
    assert len(selected) == 2
    assert selected == set(second.filter(pl.col("rewritten"))["id"])
