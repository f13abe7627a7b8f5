"""html_extract on real web pages (tests/fixtures/web_pages.jsonl.zst) and on junk; no Ray."""

from __future__ import annotations

import json

import lxml.html
import numpy as np
import pyarrow as pa
import pytest

from benchmarks._web_pages import present, tokens
from curate.documents import DOCUMENT_SCHEMA
from curate.engine.units import Chain
from curate.stage import DROP_DETAIL, DROP_REASON, DROP_STAGE
from curate.stages import get_stage_class
from curate.stages.html_extract import HtmlExtract
from tests.web_fixture import pages


def table(htmls: list[str], urls: list[str | None] | None = None) -> pa.Table:
    urls = urls or [None] * len(htmls)
    return pa.table({"id": [f"p{i}" for i in range(len(htmls))], "text": htmls, "source": ["web"] * len(htmls),
                     "meta": [json.dumps({"url": u}) if u else None for u in urls], "_order": list(range(len(htmls)))},
                    schema=DOCUMENT_SCHEMA)


def words(text: str | None) -> str:
    return " " + " ".join(tokens(text or "")) + " "


@pytest.fixture(scope="module")
def extracted():
    fixture = pages()
    out, stats = HtmlExtract().process_batch(table([p["html"] for p in fixture], [p["url"] for p in fixture]))
    return fixture, out.to_pylist(), stats


def test_main_content_is_kept_and_chrome_removed_on_real_pages(extracted):
    """Scored like benchmarks/html_extract.py: snippets found in the page's text (a few labels are not) count."""
    fixture, rows, stats = extracted
    kept, content, gone, chrome = [], [], [], []
    for page, row in zip(fixture, rows):
        assert row[DROP_REASON] is None and "<" not in row["text"][:200]
        text, html = words(row["text"]), words(" ".join(lxml.html.fromstring(page["html"]).itertext()))
        findable = [tokens(s) for s in page["with"] if present(tokens(s), html)]
        content += findable
        kept += [s for s in findable if present(s, text)]
        findable = [tokens(s) for s in page["without"] if present(tokens(s), html)]
        chrome += findable
        gone += [s for s in findable if not present(s, text)]
    assert len(content) >= 15 and len(chrome) >= 12  # most labels are found in the pages' text
    assert len(kept) / len(content) >= 0.75 and len(gone) / len(chrome) >= 0.75, (kept, content, gone, chrome)
    assert stats["extracted"] == len(fixture) and 0 < stats["text_chars"] < stats["html_bytes"] / 3


def test_a_news_page_loses_its_navigation_and_keeps_its_article(extracted):
    fixture, rows, _ = extracted
    row = rows[[p["id"] for p in fixture].index("galore.de.buch.html")]
    text = words(row["text"])
    assert all(present(tokens(s), text) for s in pages()[2]["with"])
    for chrome in ("Abo", "Facebook", "Interviews"):
        assert not present(tokens(chrome), text)
    assert row["title"] == "Literatur"


def test_titles_come_from_the_page(extracted):
    fixture, rows, _ = extracted
    titles = {p["id"]: r["title"] for p, r in zip(fixture, rows)}
    assert titles["flowfx.de.tmux.html"] == "Copy & paste from tmux to system clipboard"
    assert titles["guenter-pilger.de.mailaktion.html"] == "Mail-Aktion an den Deutschen Bundestag"


def test_empty_and_junk_pages_are_dropped_with_a_reason_by_the_stage_and_never_raise():
    real = pages()[1]["html"]
    junk = [
        "",
        "   \n ",
        "".join(map(chr, range(32))) * 20 + "\ufffd\x00\x7f" * 50,  # control characters and replacement marks
        bytes(range(256)).decode("latin-1") * 8,  # a binary payload read as text
        real[: len(real) // 3],  # a page cut inside a tag
        "<div>" * 5000 + "deep" + "</div>" * 10,  # deeply nested, unclosed
        "<html><body><script>var x = '<p>not text</p>';</script><style>p {}</style></body></html>",
        '<?xml version="1.0"?><rss><channel><item>feed</item></channel></rss>',
    ]
    batch = table(junk)
    chain = Chain([HtmlExtract()], reads_input=False)
    out = chain.process(batch).sort_by("_order").to_pylist()
    assert len(out) == len(junk)
    for row in out:
        assert row[DROP_REASON] in (None, "no_content"), row[DROP_DETAIL]
        if row[DROP_REASON] is not None:
            assert row[DROP_STAGE] == "html_extract" and row[DROP_DETAIL] == "no main text found"
    assert [r[DROP_REASON] for r in out[:4]] == ["no_content"] * 4
    assert out[0]["text"] == "" and out[3]["text"] == junk[3]  # a dropped page keeps its HTML
    counts = chain.counts["html_extract"]
    assert counts.documents_in == len(junk) == counts.documents_out + sum(counts.dropped.values())


def test_a_page_over_the_size_cap_is_dropped_unread():
    html = pages()[0]["html"]
    out, stats = HtmlExtract(max_html_bytes=len(html.encode()) - 1).process_batch(table([html, "<p>short</p>" * 3]))
    assert out.column(DROP_REASON).to_pylist()[0] == "html_too_large"
    assert out.column(DROP_DETAIL).to_pylist()[0] == f"html_bytes={len(html.encode())} > {len(html.encode()) - 1}"
    assert stats["checked"] == 2


BUDGET = ("<p>" + "The committee met on Tuesday to discuss the new budget for the coming year and agreed on most "
          "points. " * 3 + "</p>")
ARTICLE = (f"<html><head><title>Budget news</title></head><body><article><h1>Budget agreed</h1>{BUDGET}{BUDGET}"
           "<table><tr><td>Revenue line alpha</td><td>1200 units</td></tr><tr><td>Expense line beta</td>"
           f"<td>800 units</td></tr></table>{BUDGET}</article><div id='comments' class='comments'><h3>Comments</h3>"
           "<div class='comment'><p>Reader remark: I strongly disagree with this budget decision and think the "
           "committee should reconsider it carefully.</p></div></div></body></html>")


@pytest.mark.parametrize("options, table_text, comment", [
    ({}, True, False),
    ({"include_tables": False}, False, False),
    ({"include_comments": True}, True, True),
])
def test_tables_and_comments_follow_the_options(options, table_text, comment):
    text = HtmlExtract(**options).process_batch(table([ARTICLE]))[0].column("text")[0].as_py()
    assert "committee met on Tuesday" in text
    assert ("Revenue line alpha" in text) is table_text and ("Reader remark" in text) is comment


def test_precision_keeps_no_more_than_recall_on_real_pages():
    fixture = pages()
    batch = table([p["html"] for p in fixture], [p["url"] for p in fixture])
    lengths = {}
    for option in ("favor_precision", "favor_recall"):
        out, _ = HtmlExtract(**{option: True}).process_batch(batch)
        lengths[option] = np.array([len(t) for t in out.column("text").to_pylist()])
    assert lengths["favor_precision"].sum() < lengths["favor_recall"].sum()


def test_the_html_is_replaced_kept_or_left_in_text():
    html = pages()[1]["html"]
    replaced = HtmlExtract().process_batch(table([html]))[0]
    assert "html" not in replaced.column_names and not replaced.column("text")[0].as_py().startswith("<")
    kept = HtmlExtract(keep_html=True).process_batch(table([html]))[0]
    assert kept.column("html")[0].as_py() == html
    assert kept.column("text").equals(replaced.column("text"))
    beside = HtmlExtract(output_column="main_text").process_batch(table([html]))[0]
    assert beside.column("text")[0].as_py() == html
    assert beside.column("main_text").equals(replaced.column("text"))


@pytest.mark.parametrize("params, message", [
    ({"favor_precision": True, "favor_recall": True}, "exclude each other"),
    ({"keep_html": True, "output_column": "main"}, "keep_html"),
    ({"output_column": "id"}, "taken"),
    ({"output_column": "_x"}, "taken"),
    ({"max_html_bytes": 0}, "greater than 0"),
])
def test_inconsistent_options_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        HtmlExtract(**params)


def test_the_stage_is_registered():
    assert get_stage_class("html_extract") is HtmlExtract
