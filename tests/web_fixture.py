"""Real web pages (tests/fixtures/web_pages.jsonl.zst, built by scripts/build_web_fixture.py) written as WARC files.

:func:`crawl_warc` writes what a crawler such as Common Crawl's leaves behind:
a ``warcinfo`` record, then per fetch a ``request``, a ``response`` and a
``metadata`` record. Besides the HTML pages it holds a re-fetch of one page
(an exact duplicate under another record id), a page with invalid bytes, a
robots.txt (text/plain), a PNG image, a 404 page and a redirect.

Charsets: most pages are served as UTF-8 and say so in the HTTP header. Two
German pages with umlauts are served in windows-1252 instead: one declared
only in the HTTP header (its ``<meta>`` still says UTF-8, the header wins),
one only in its ``<meta>`` (rewritten to say windows-1252). The fixture's two
legacy pages are pure ASCII (entities), served in the charset they declare.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import zstandard

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "web_pages.jsonl.zst"
# A PNG file (1x1 pixel): a binary payload the reader must not take for a page.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def pages() -> list[dict]:
    """The fixture's pages: ``id``, ``url``, ``html``, ``with`` (content snippets), ``without`` (chrome snippets)."""
    data = zstandard.ZstdDecompressor().decompress(FIXTURE.read_bytes(), max_output_size=1 << 26)
    return [json.loads(line) for line in data.splitlines()]


def page(page_id: str) -> dict:
    return next(p for p in pages() if p["id"] == page_id)


@dataclass
class Fetch:
    url: str
    body: bytes
    content_type: str | None = "text/html; charset=utf-8"
    status: str = "200 OK"
    date: str = "2024-05-01T10:00:00Z"
    extra_headers: tuple[tuple[str, str], ...] = ()
    text: str | None = None  # what the reader must give back for an HTML page: the page, decoded
    warc_headers: tuple[tuple[str, str], ...] = ()


META_CHARSET = re.compile(r"(<meta[^>]*charset\s*=\s*[\"']?\s*)([\w.:-]+)", re.I)


def declared(html: str, charset: str) -> str:
    """``html`` with its ``<meta>`` charset declaration changed to ``charset``."""
    changed, count = META_CHARSET.subn(lambda m: m.group(1) + charset, html, count=1)
    assert count == 1, "the page declares no charset in a <meta>"
    return changed


def write_warc(path: Path, fetches: list[Fetch], compress: bool = True, crawl_records: bool = True) -> list[str]:
    """Write ``fetches`` as a WARC file; returns the response records' ids (``urn:uuid:...``), in order."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    ids = []
    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=compress)
        if crawl_records:
            writer.write_record(writer.create_warcinfo_record(path.name, {"software": "curate tests",
                                                                          "format": "WARC File Format 1.1"}))
        for fetch in fetches:
            if crawl_records:
                request = StatusAndHeaders(f"GET {fetch.url} HTTP/1.1", [("User-Agent", "curate-test")],
                                           is_http_request=True)
                writer.write_record(writer.create_warc_record(fetch.url, "request", http_headers=request,
                                                              warc_headers_dict={"WARC-Date": fetch.date}))
            headers = [("Content-Type", fetch.content_type)] if fetch.content_type else []
            headers += list(fetch.extra_headers)
            http = StatusAndHeaders(fetch.status, headers, protocol="HTTP/1.1")
            response = writer.create_warc_record(fetch.url, "response", payload=io.BytesIO(fetch.body),
                                                 http_headers=http,
                                                 warc_headers_dict={"WARC-Date": fetch.date, **dict(fetch.warc_headers)})
            writer.write_record(response)
            ids.append(response.rec_headers.get_header("WARC-Record-ID").strip("<>"))
            if crawl_records:
                writer.write_record(writer.create_warc_record(
                    fetch.url, "metadata", payload=io.BytesIO(b"fetchTimeMs: 120\r\n"),
                    warc_content_type="application/warc-fields", warc_headers_dict={"WARC-Date": fetch.date}))
    return ids


def crawl_fetches() -> list[Fetch]:
    """The fetches of :func:`crawl_warc` (see the module docstring)."""
    fetches = []
    for p in pages():
        html = p["html"]
        if p["id"] in ("hundeverein-kreisunna.de.html", "wordsmith.org.maudlin.html"):  # their own legacy charset
            fetches.append(Fetch(p["url"], html.encode("cp1252"), "text/html; charset=windows-1252", text=html))
        elif p["id"] == "guenter-pilger.de.mailaktion.html":  # windows-1252 in the header, UTF-8 in the <meta>
            fetches.append(Fetch(p["url"], html.encode("cp1252"), "text/html; charset=iso-8859-1", text=html))
        elif p["id"] == "wehranlage-horka.de.887.html":  # windows-1252 declared in the <meta> only
            html = declared(html, "windows-1252")
            fetches.append(Fetch(p["url"], html.encode("cp1252"), "text/html", text=html))
        else:
            fetches.append(Fetch(p["url"], html.encode("utf-8"), text=html))
    galore = page("galore.de.buch.html")
    fetches.append(Fetch(galore["url"], galore["html"].encode("utf-8"), date="2024-06-01T10:00:00Z",
                         text=galore["html"]))  # a re-fetch
    partei = page("die-partei.net.luebeck.html")["html"]
    head, tail = partei.split("</title>", 1)
    fetches.append(Fetch("https://die-partei.net/luebeck/kopie/", f"{head} ".encode() + b"\xff\xfe\xff" +
                         f"</title>{tail}".encode(), text=f"{head} \ufffd\ufffd\ufffd</title>{tail}"))  # 3 bad bytes
    fetches.append(Fetch("https://flowfx.de/robots.txt", b"User-agent: *\nDisallow: /admin/\n", "text/plain"))
    fetches.append(Fetch("https://flowfx.de/logo.png", PNG, "image/png"))
    fetches.append(Fetch("https://flowfx.de/missing", b"<html><body><h1>Not Found</h1></body></html>",
                         status="404 Not Found"))
    fetches.append(Fetch("http://flowfx.de/", b"", None, status="301 Moved Permanently",
                         extra_headers=(("Location", "https://flowfx.de/"),)))
    return fetches


def crawl_warc(path: Path, compress: bool = True) -> list[str]:
    """Write the crawl fixture to ``path``; returns the response ids in order."""
    return write_warc(path, crawl_fetches(), compress=compress)
