"""pipelines/web.yaml end to end through the CLI on a crawl's WARC file of real pages (tests/web_fixture.py)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.conftest import REPO, run_cli
from tests.web_fixture import crawl_fetches, crawl_warc, page

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture(scope="module")
def web_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web")
    ids = crawl_warc(folder / "crawl.warc.gz")
    out = folder / "out"
    # the fixture's pages are mostly German: keep German too, and drop the English stop-word rule (as the
    # pipeline's comments say to do for other languages)
    result = run_cli("run", str(REPO / "pipelines" / "web.yaml"), "--input", str(folder / "*.warc.gz"),
                     "--output", str(out), "--num-cpus", "2",
                     "--set", "language.keep=[en, de]", "--set", "gopher_quality.min_stop_words=null")
    assert result.returncode == 0, result.stderr
    return out, ids, result


def test_every_response_is_accounted_for(web_run):
    out, ids, result = web_run
    manifest = json.loads((out / "_manifest.json").read_text())
    kept, dropped = pl.read_parquet(f"{out}/*.parquet"), pl.read_parquet(f"{out}/_dropped/*.parquet")
    docs = manifest["documents"]
    assert docs["input"] == len(crawl_fetches()) == len(ids)  # one document per response record
    assert docs["input"] + docs["created"] == docs["output"] + docs["dropped"] == kept.height + dropped.height
    assert sorted([*kept["id"], *dropped["id"]]) == sorted(ids)
    assert "13 in = " in result.stdout
    assert [s["name"] for s in manifest["stages"]] == [
        "read", "html_extract", "language", "gopher_repetition", "gopher_quality", "c4_filter", "fineweb_filter",
        "exact_dedup", "minhash_dedup", "pii"]
    reasons = {(row["stage"], row["reason"]) for row in dropped.iter_rows(named=True)}
    assert {("read", "not_html"), ("read", "http_status"), ("exact_dedup", "exact_duplicate")} <= reasons
    read = manifest["stages"][0]["stats"]["warc"]
    assert read["records_skipped"] == {"warcinfo": 1, "request": len(ids), "metadata": len(ids)}
    assert read["invalid_bytes"] == 3


def test_the_output_is_main_text_with_title_and_url(web_run):
    out, ids, _ = web_run
    kept, dropped = pl.read_parquet(f"{out}/*.parquet"), pl.read_parquet(f"{out}/_dropped/*.parquet")
    assert kept.height > 0 and {"id", "text", "source", "meta", "title", "language"} <= set(kept.columns)
    assert "html" not in kept.columns
    for row in kept.iter_rows(named=True):
        assert "<div" not in row["text"] and "<html" not in row["text"].lower()
        assert json.loads(row["meta"])["url"].startswith("http") and row["source"] == "crawl.warc.gz"
    # the re-fetch of a page is an exact duplicate of the first fetch
    galore = page("galore.de.buch.html")["url"]
    duplicate = dropped.filter(pl.col("reason") == "exact_duplicate").row(0, named=True)
    assert json.loads(duplicate["meta"])["url"] == galore and duplicate["duplicate_of"] in ids
