"""curate report: one self-contained HTML page; it renders in headless Chromium with its figures and no errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.manifest import read_manifest, write_manifest
from curate.report import data as collect
from curate.report import write_report
from tests.feed_output import build_output


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("report") / "out")
    truth = build_output(folder, documents=120)
    path = write_report(folder, tokenizer="estimate")
    with open(path, encoding="utf-8") as handle:
        return folder, truth, handle.read()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "figure" and attrs.get("class") == "chart":
            self.charts.append(attrs["data-chart"])
        self.links += [value for key, value in attrs.items() if key in ("src", "href") and value]


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_every_section_has_its_figures_and_nothing_external(report):
    _, _, html = report
    page = _parse(html)
    expected = {"funnel", "drop-reasons", "score-quality_score", "score-char_count", "tokens-per-document",
                "mix-language", "mix-source", "dedup-cluster-sizes", "icp-similarity", "icp-context-documents",
                "icp-context-tokens"}
    assert expected <= set(page.charts)
    assert "score-context_id" not in page.charts and "score-position" not in page.charts
    assert page.tags.count("svg") == len(page.charts) and page.tags.count("rect") > 100
    assert all(link.startswith("#") for link in page.links)  # in-page navigation only
    assert "script" not in page.tags and "link" not in page.tags and "url(" not in html and "@import" not in html
    # before/after of rewritten documents: the removed menu line is struck through
    assert html.count('<div class="pair">') == 3 and "<del>Menu | Home | Login</del>" in html


def test_funnel_tokens_follow_the_drops(report, tmp_path):
    folder, truth, _ = report
    data = collect.load(folder, tokenizer="estimate")
    rows = collect.funnel(data)
    output_tokens = int(data.tokens.sum())
    assert rows[-1]["tokens_out"] == output_tokens
    assert rows[0]["tokens_in"] == output_tokens + int(data.dropped_tokens.sum())
    by_stage = dict(zip(data.dropped["stage"].to_list(), data.dropped_tokens.tolist()))
    short = sum(t for s, t in zip(data.dropped["stage"].to_list(), data.dropped_tokens.tolist()) if s == "length_filter")
    assert rows[1]["tokens_in"] - rows[1]["tokens_out"] == short > 0
    assert rows[2]["tokens_in"] - rows[2]["tokens_out"] == sum(
        t for s, t in zip(data.dropped["stage"].to_list(), data.dropped_tokens.tolist()) if s == "exact_dedup")
    assert set(by_stage) == {"length_filter", "exact_dedup"}
    clusters = collect.duplicate_clusters(data.dropped)
    assert clusters["size"].sum() == 9 + clusters.height and clusters.height == 4


def test_text_before_a_rewrite_comes_from_the_checkpoints(report, tmp_path):
    folder, truth, _ = report
    copy = str(tmp_path / "out")
    shutil.copytree(folder, copy)
    for name in sorted(os.listdir(copy)):
        if name.endswith(".parquet"):
            pq.write_table(pq.read_table(os.path.join(copy, name)).drop(["original_text"]), os.path.join(copy, name))
    edited = [row for row in truth["rows"] if row["rewrite_status"] == "edited"]
    before = pa.table({"id": [r["id"] for r in edited], "text": [r["original_text"] for r in edited]})
    os.makedirs(os.path.join(copy, "_stages", "00-read+length_filter"))
    pq.write_table(before, os.path.join(copy, "_stages", "00-read+length_filter", "0000.parquet"))
    os.makedirs(os.path.join(copy, "_stages", "02-exact_dedup"))
    pq.write_table(pa.table({"_order": [1]}), os.path.join(copy, "_stages", "02-exact_dedup", "0000.parquet"))
    manifest = read_manifest(copy)
    manifest.stages[3].checkpoint = "03-rewrite"
    write_manifest(copy, manifest)
    examples = collect.rewrites(collect.load(copy, tokenizer="estimate"))
    assert [e["id"] for e in examples] == [r["id"] for r in edited][:5]
    assert all(e["before"] == "Menu | Home | Login\n" + e["after"] for e in examples)


def test_cli_report_with_a_tokenizer(report, tmp_path):
    from curate.cli import main
    from tests.feed_output import train_tokenizer

    folder, _, _ = report
    path = str(tmp_path / "r.html")
    result = CliRunner().invoke(main, ["report", folder, "--html", path, "--tokenizer",
                                       train_tokenizer(str(tmp_path / "tok"))])
    assert result.exit_code == 0, result.output
    with open(path, encoding="utf-8") as handle:
        assert "counted with the tok tokenizer" in handle.read()
    missing = CliRunner().invoke(main, ["report", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "curate run" in missing.output


CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]


def _chromium(url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, *extra, url], capture_output=True, text=True, timeout=90)


def _console(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (make test installs Debian's "
                                             "chromium with apt where it can: apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    folder, _, html = report
    # the console check catches errors on this Chromium: a page with a broken script is reported
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>missingFunction();</script></body></html>")
    assert any("missingFunction" in line for line in _console(_chromium(broken.as_uri(), "--dump-dom").stderr))

    url = "file://" + os.path.abspath(os.path.join(folder, "report.html"))
    result = _chromium(url, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert _console(result.stderr) == []
    dom = _parse(result.stdout)
    assert dom.charts == _parse(html).charts and len(dom.charts) >= 11
    assert dom.tags.count("svg") == len(dom.charts)
    assert re.search(r'<section id="icp">.*<svg', result.stdout, re.S)


def test_packed_section_and_a_stale_pack(report, tmp_path):
    from curate.feed.pack import PackConfig, pack_output
    from tests.feed_output import train_tokenizer

    folder, _, _ = report
    copy = str(tmp_path / "out")
    shutil.copytree(folder, copy)
    pack_output(copy, PackConfig(tokenizer=train_tokenizer(str(tmp_path / "tok")), seq_len=64))
    with open(write_report(copy, tokenizer="estimate"), encoding="utf-8") as handle:
        html = handle.read()
    assert "packed-lengths" in _parse(html).charts and "run curate pack again" not in html
    manifest = read_manifest(copy)
    manifest.created = "2030-01-01T00:00:00Z"  # a later run over the same folder
    write_manifest(copy, manifest)
    with open(write_report(copy, tokenizer="estimate"), encoding="utf-8") as handle:
        assert "run curate pack again" in handle.read()


def test_a_run_that_kept_nothing_still_gets_a_report(tmp_path):
    from curate.manifest import Manifest

    folder = str(tmp_path / "empty")
    os.makedirs(folder)
    write_manifest(folder, Manifest())
    with open(write_report(folder, tokenizer="estimate"), encoding="utf-8") as handle:
        html = handle.read()
    assert "0 out" in html and "No document was dropped" in html and "funnel" in _parse(html).charts


def test_long_drop_reasons_and_pii_counts_are_shown_whole(report, tmp_path):
    """Labels such as gopher_quality/too_few_alpha_words are written in full, inside the chart; pii stats get a chart."""
    from curate.manifest import StageRecord
    from curate.report.svg import label_extent

    folder, _, _ = report
    copy = str(tmp_path / "out")
    shutil.copytree(folder, copy)
    manifest = read_manifest(copy)
    long_reason = "too_few_alpha_words_in_a_rather_long_reason_name"
    manifest.stages.append(StageRecord(index=5, name="gopher_quality", kind="map", dropped={long_reason: 3}))
    manifest.stages.append(StageRecord(index=6, name="pii", kind="map", params={"mode": "replace"},
                                       stats={"checked": 10, "matches": {"email": 7, "ip": 2},
                                              "documents": {"email": 4, "ip": 1}, "exempted": {"email": 1, "ip": 5}}))
    write_manifest(copy, manifest)
    with open(write_report(copy, tokenizer="estimate"), encoding="utf-8") as handle:
        html = handle.read()
    page = _parse(html)
    assert "pii-6" in page.charts
    drops = html[html.index('data-chart="drop-reasons"'):]
    drops = drops[:drops.index("</figure>")]
    label = f"gopher_quality/{long_reason}"
    match = re.search(r'<text x="([\d.]+)"[^>]*text-anchor="end"><title>[^<]*</title>' + re.escape(label) + "</text>",
                      drops)
    assert match, "the label is not written in full"
    assert float(match.group(1)) - label_extent([label]) >= 0  # its left end is inside the chart
    width = float(re.search(r'<svg width="([\d.]+)"', drops).group(1))
    assert width > float(match.group(1)) + 300  # and the bars still have their room
