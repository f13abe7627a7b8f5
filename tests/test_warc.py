"""The WARC reader on real web pages written as a crawl's WARC files (tests/web_fixture.py)."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest

from curate.io.html_charset import decode_html
from curate.io.reader import InputError, ReaderConfig, read_file, resolve_inputs
from curate.io.records import read_stats
from curate.stage import DROP_DETAIL, DROP_REASON
from tests.s3_server import make_bucket, upload
from tests.web_fixture import Fetch, crawl_fetches, crawl_warc, page, pages, write_warc

PAGES = 7  # the fixture's pages; then a re-fetch and a page with invalid bytes (9 HTML documents)
HTML_DOCS = PAGES + 2


def read(path, **config) -> tuple[pa.Table, dict]:
    """All rows of the inputs under ``path`` and the reader's statistics (summed as the engine does)."""
    from curate.engine.units import add_stats

    tables, stats = [], {}
    for index, file in enumerate(resolve_inputs([str(path)])):
        for table in read_file(index, file, ReaderConfig(**config)):
            stats = add_stats(stats, read_stats(table))
            tables.append(table.replace_schema_metadata(None))
    return pa.concat_tables(tables), stats


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    path = tmp_path_factory.mktemp("crawl") / "crawl.warc.gz"
    return path, crawl_warc(path)


def test_html_responses_become_documents_with_the_record_id_and_meta(crawl):
    path, ids = crawl
    table, stats = read(path)
    rows = table.to_pylist()
    kept = [r for r in rows if r[DROP_REASON] is None]
    assert [r["id"] for r in kept] == ids[:HTML_DOCS]
    assert all(i.startswith("urn:uuid:") for i in ids)
    assert {r["source"] for r in rows} == {"crawl.warc.gz"}
    first = pages()[0]
    assert kept[0]["text"] == first["html"]
    meta = json.loads(kept[0]["meta"])
    assert meta == {"url": first["url"], "date": "2024-05-01T10:00:00Z", "content_type": "text/html; charset=utf-8",
                    "status": 200, "charset": "utf-8"}
    # the re-fetch is another document (another record) with the same text and a later date
    assert kept[PAGES]["text"] == page("galore.de.buch.html")["html"]
    assert json.loads(kept[PAGES]["meta"])["date"] == "2024-06-01T10:00:00Z"
    assert stats["warc"]["documents"] == HTML_DOCS


def test_the_same_file_reads_to_the_same_ids(crawl):
    path, _ = crawl
    assert read(path)[0]["id"].equals(read(path)[0]["id"])


def test_charset_from_the_header_or_the_meta_tag_and_invalid_bytes_counted(crawl):
    path, _ = crawl
    table, stats = read(path)
    kept = [r for r in table.to_pylist() if r[DROP_REASON] is None]
    served = [f for f in crawl_fetches() if f.text is not None]
    assert [r["text"] for r in kept] == [f.text for f in served]  # every page decoded as it was served
    charsets = {json.loads(r["meta"])["url"]: json.loads(r["meta"])["charset"] for r in kept}
    for page_id in ("guenter-pilger.de.mailaktion.html", "wehranlage-horka.de.887.html"):
        umlauts = page(page_id)
        assert charsets[umlauts["url"]] == "cp1252" and any(ch in umlauts["html"] for ch in "äöüß")
    assert "utf-8" in page("guenter-pilger.de.mailaktion.html")["html"][:2000].lower()  # the header won
    broken = kept[-1]
    assert broken["text"].count("\ufffd") == 3 and json.loads(broken["meta"])["invalid_bytes"] == 3
    assert stats["warc"]["invalid_bytes"] == 3 and stats["warc"]["documents_with_invalid_bytes"] == 1
    assert stats["warc"]["charset"] == {"utf-8": HTML_DOCS - 4, "cp1252": 4}


def test_non_html_and_non_200_responses_are_dropped_with_reasons_and_other_records_counted(crawl):
    path, ids = crawl
    table, stats = read(path)
    dropped = [r for r in table.to_pylist() if r[DROP_REASON] is not None]
    assert [(r["id"], r[DROP_REASON]) for r in dropped] == list(zip(
        ids[HTML_DOCS:], ["not_html", "not_html", "http_status", "http_status"]))
    assert "content type image/png" in dropped[1][DROP_DETAIL] and "logo.png" in dropped[1][DROP_DETAIL]
    assert "404 Not Found" in dropped[2][DROP_DETAIL]
    assert all(r["text"] is None for r in dropped)  # a binary payload is never taken for text
    assert json.loads(dropped[3]["meta"])["status"] == 301
    # every response is one row; requests, metadata and warcinfo are no documents, counted by type
    responses = len(crawl_fetches())
    assert table.num_rows == responses == len(ids)
    assert stats["warc"]["records_skipped"] == {"warcinfo": 1, "request": responses, "metadata": responses}
    assert stats["warc"]["records"] == 1 + 3 * responses


def test_an_uncompressed_warc_and_one_gzipped_whole_read_the_same(crawl, tmp_path):
    plain = tmp_path / "crawl.warc"
    ids = crawl_warc(plain, compress=False)
    whole = tmp_path / "whole.warc.gz"  # one gzip member for the file, not one per record
    whole.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, whole):
        table, _ = read(path)
        assert table.column("id").to_pylist() == ids
        assert table.column("text").equals(read(crawl[0])[0].column("text"))


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
def test_a_truncated_file_keeps_the_records_before_the_cut_and_says_where_it_stopped(crawl, tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    ids = crawl_warc(whole, compress=suffix.endswith(".gz"))
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    table, _ = read(cut)
    rows = table.to_pylist()
    assert rows[-1][DROP_REASON] == "unreadable_file"
    assert "truncated file" in rows[-1][DROP_DETAIL] and rows[-1][DROP_DETAIL].startswith(f"cut{suffix}: ")
    read_ids = [r["id"] for r in rows[:-1]]
    assert 0 < len(read_ids) < len(ids) and read_ids == ids[: len(read_ids)]
    with pytest.raises(InputError, match=rf"cut{suffix}: stopped reading after \d+ whole records: .*truncated"):
        read(cut, strict=True)


def test_a_corrupt_or_foreign_file_is_one_unreadable_row(crawl, tmp_path):
    corrupt = tmp_path / "corrupt.warc.gz"
    data = bytearray(crawl[0].read_bytes())
    data[len(data) // 2: len(data) // 2 + 40] = bytes(40)
    corrupt.write_bytes(bytes(data))
    (tmp_path / "notes.warc").write_bytes(b"these are notes, not an archive\n" * 5)
    (tmp_path / "text.warc.gz").write_bytes(b"plain text with a .gz name")
    table, _ = read(tmp_path)
    unreadable = {r[DROP_DETAIL].split(":")[0]: r[DROP_DETAIL] for r in table.to_pylist()
                  if r[DROP_REASON] == "unreadable_file"}
    assert sorted(unreadable) == ["corrupt.warc.gz", "notes.warc", "text.warc.gz"]
    assert "corrupt gzip data" in unreadable["corrupt.warc.gz"]
    assert "is no WARC record" in unreadable["notes.warc"]


def test_too_large_and_empty_pages(tmp_path):
    html = page("galore.de.buch.html")["html"].encode()
    path = tmp_path / "sizes.warc.gz"
    write_warc(path, [Fetch("https://a.example/big", html), Fetch("https://a.example/empty", b"  \n"),
                      Fetch("https://a.example/small", b"<html><body><p>Kurz.</p></body></html>")],
               crawl_records=False)
    table, _ = read(path, max_doc_bytes=len(html) - 1)
    assert table.column(DROP_REASON).to_pylist() == ["too_large", "empty_text", None]
    with pytest.raises(InputError, match="too_large"):
        read(path, max_doc_bytes=len(html) - 1, strict=True)


def test_a_payload_the_crawler_cut_is_marked_in_meta(tmp_path):
    html = page("flowfx.de.tmux.html")["html"].encode()
    path = tmp_path / "cut.warc.gz"
    write_warc(path, [Fetch("https://a.example/long", html[:4000], warc_headers=(("WARC-Truncated", "length"),)),
                      Fetch("https://a.example/whole", html)], crawl_records=False)
    metas = [json.loads(m) for m in read(path)[0].column("meta").to_pylist()]
    assert metas[0]["truncated"] == "length" and "truncated" not in metas[1]


def test_a_response_without_content_type_is_html_only_when_it_looks_like_html(tmp_path):
    path = tmp_path / "untyped.warc"
    write_warc(path, [Fetch("https://a.example/page", page("flowfx.de.tmux.html")["html"].encode(), None),
                      Fetch("https://a.example/blob", b"\x00\x01binary", None)], compress=False)
    assert read(path)[0].column(DROP_REASON).to_pylist() == [None, "not_html"]


def test_warc_files_in_a_bucket_read_like_local_ones(s3_server, crawl, tmp_path):
    local = tmp_path / "crawl"
    local.mkdir()
    (local / "part-0.warc.gz").write_bytes(crawl[0].read_bytes())
    url = make_bucket("warcs") + "/crawl"
    upload(local, url)
    remote = read(f"{url}/*.warc.gz")[0]
    assert remote.equals(read(local)[0])
    assert [f.format for f in resolve_inputs(url)] == ["warc"]


@pytest.mark.parametrize("payload, content_type, charset, text", [
    ("<meta charset=utf-8>Grüße".encode("cp1252"), "text/html; charset=windows-1252", "cp1252", None),
    (b"\xef\xbb\xbf<p>BOM wins</p>", "text/html; charset=iso-8859-2", "utf-8", "<p>BOM wins</p>"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2"><p>\xb3\xf3d\xbc</p>', "text/html",
     "iso8859-2", '<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-2"><p>łódź</p>'),
    ('<meta charset="latin1"><p>Straße</p>'.encode("cp1252"), "text/html; charset=no-such-charset", "cp1252",
     '<meta charset="latin1"><p>Straße</p>'),  # an unknown label falls through to the next step
    ("<p>naïve café</p>".encode(), "text/html", "utf-8", "<p>naïve café</p>"),
])
def test_charset_order_bom_then_header_then_meta_then_guess(payload, content_type, charset, text):
    decoded = decode_html(payload, content_type)
    assert decoded.charset == charset and decoded.invalid_bytes == 0
    if text is not None:
        assert decoded.text == text


def test_bad_bytes_never_raise():
    for junk in (bytes(range(256)) * 4, b"\xff\xfe\x00\xd8", b"\x81\x8d\x8f\x90\x9d"):
        decoded = decode_html(junk, "text/html; charset=windows-1252")
        assert isinstance(decoded.text, str) and not any(0xD800 <= ord(c) <= 0xDFFF for c in decoded.text)
    assert decode_html(b"\x81\x8d\x8f\x90\x9d", "text/html; charset=windows-1252").invalid_bytes == 5


@pytest.mark.parametrize("text, charset", [
    ("<p>Die Straßenbahn fährt über die Brücke; Größe und Maß sind gemäß Vorschrift.</p>", "cp1252"),
    ("<p>Zażółć gęślą jaźń, powiedział pan Łukasz w Łodzi.</p>", "cp1250"),
    ("<p>Съешь же ещё этих мягких французских булок, да выпей чаю.</p>", "cp1251"),
    ("<p>日本語のテキストです。これは試験です。</p>", "shift_jis"),
])
def test_an_undeclared_legacy_page_is_guessed(text, charset):
    assert decode_html(text.encode(charset), "text/html").text == text
