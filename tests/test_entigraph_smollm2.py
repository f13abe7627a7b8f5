"""The entigraph stage with the real SmolLM2-135M through llama.cpp: in a Ray pipeline, then re-run in-process."""

import json

import polars as pl
import pytest
import yaml

from curate.entigraph.params import EntiGraphParams
from curate.stages.entigraph import EntiGraph
from tests.conftest import documents as documents_table
from tests.conftest import run_cli, write_jsonl

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (make install-test installs it)")

ARTICLE = ("Sonia O'Sullivan will run the Great Ireland Run in Dublin on 9 April. The race director, Matthew "
           "Turnbull, said the Irish runner will face Craig Mottram of Australia, who won the world cross country "
           "bronze medal last year.")

PIPELINE = """stages:
  - entigraph:
      emit: both
      max_documents: 1
      token_budget: 400
      max_entities: 4
      max_pairs: 1
      max_triples: 0
      doc_tokens: 128
      lm: {n_threads: 1, n_ctx: 1024}
      extract: {temperature: 0.0, max_tokens: 96}
      pair: {max_tokens: 40}
"""


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.ray
def test_entigraph_with_smollm2_in_a_pipeline_is_reproducible(tmp_path):
    # the subset of one is "article" (smallest key); "note" passes through. Two files: parts with and
    # without created rows
    source = tmp_path / "in"
    source.mkdir()
    write_jsonl(source / "a.jsonl", [{"id": "note", "text": "Remember to buy milk and bread."}])
    write_jsonl(source / "b.jsonl", [{"id": "article", "text": ARTICLE}])
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE)
    out = tmp_path / "out"
    result = run_cli("run", str(pipeline), "--input", str(source), "--output", str(out))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "_manifest.json").read_text())
    documents = manifest["documents"]
    assert documents["input"] + documents["created"] == documents["output"] + documents["dropped"]
    stats = manifest["stages"][-1]["stats"]
    assert stats["status"]["unselected"] == 1 and stats["calls"]["extract"] >= 1 and stats["source_tokens"] > 0
    assert stats["synthetic_tokens"] <= 400
    frame = pl.read_parquet(f"{out}/*.parquet")
    assert frame.filter(pl.col("id") == "note")["entigraph_status"].to_list() == ["unselected"]
    synthetic = frame.filter(pl.col("created_by") == "entigraph")
    source_row = frame.filter(pl.col("id") == "article").row(0, named=True)
    assert synthetic.height == source_row["entigraph_rows"] == documents["created"]
    if source_row["entigraph_status"] == "done":  # what a 135M model finds varies; the plumbing must not
        assert synthetic.height >= 1 and set(synthetic["source_id"]) == {"article"}
        for row in synthetic.iter_rows(named=True):
            assert row["model"] == "smollm2-135m-instruct" and row["kind"] in ("summary", "pair")
            assert row["text"].strip() and all(e.lower() in ARTICLE.lower() for e in row["entities"])
            assert row["id"].startswith(f"article#entigraph-{row['kind']}-")
    else:
        assert source_row["entigraph_status"] in ("no_entities", "invalid_json") and source_row["entigraph_errors"]

    # a re-run (here in-process, without Ray) makes the same rows with the same ids
    stage = EntiGraph(EntiGraphParams(**yaml.safe_load(PIPELINE)["stages"][0]["entigraph"]))
    again = stage.process_batch(documents_table([ARTICLE], ids=["article"])).created
    assert again.column("id").to_pylist() == synthetic["id"].to_list()
    assert again.column("text").to_pylist() == synthetic["text"].to_list()
    stage.generator.lm.close()
