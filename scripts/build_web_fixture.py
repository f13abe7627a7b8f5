"""Build tests/fixtures/web_pages.jsonl.zst: a handful of real web pages for the WARC reader and html_extract tests.

The pages come from ``web_pages`` in ../shared/corpora (real pages as fetched,
with snippets of main content, ``with``, and of page chrome, ``without``),
picked by a fixed rule that looks at no extractor's output: the SMALLEST
pages (by HTML bytes) that have at least two snippets of each kind, plus the
smallest page that declares a charset other than UTF-8 in a ``<meta>`` tag
(so the reader's charset handling meets a real legacy page). Only ``id``,
``url``, ``html``, ``with`` and ``without`` are kept. The tests write these
pages into WARC files at test time (tests/web_fixture.py); ``--warc PATH``
writes that crawl WARC from the committed fixture, to try the web pipeline on.

    python scripts/build_web_fixture.py
    python scripts/build_web_fixture.py --warc out/webdemo/crawl.warc.gz
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import zstandard

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._corpora import DEFAULT_CORPORA, read_corpus  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "web_pages.jsonl.zst"
SMALLEST = 6
META_CHARSET = re.compile(r"<meta[^>]*charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
FIELDS = ("id", "url", "html", "with", "without")


def legacy_charset(html: str) -> str | None:
    match = META_CHARSET.search(html[:4096])
    return match.group(1).lower() if match and match.group(1).lower() not in ("utf-8", "utf8") else None


def pick(records: list[dict]) -> list[dict]:
    by_size = sorted(records, key=lambda r: (len(r["html"].encode()), r["id"]))
    chosen = [r for r in by_size if len(r["with"]) >= 2 and len(r["without"]) >= 2][:SMALLEST]
    legacy = next(r for r in by_size if legacy_charset(r["html"]) and r not in chosen)
    return sorted([*chosen, legacy], key=lambda r: r["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--warc", type=Path, help="only write the tests' crawl WARC (from the committed fixture) here")
    args = parser.parse_args()
    if args.warc:
        from tests.web_fixture import crawl_warc

        args.warc.parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {args.warc}: {len(crawl_warc(args.warc))} responses")
        return
    pages = pick(list(read_corpus(args.corpora, "web_pages")))
    lines = b"".join(json.dumps({k: p[k] for k in FIELDS}, ensure_ascii=False).encode() + b"\n" for p in pages)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_bytes(zstandard.ZstdCompressor(level=19).compress(lines))
    for page in pages:
        print(f"{len(page['html'].encode()):7d} bytes  {legacy_charset(page['html']) or 'utf-8':12s} {page['id']}")
    print(f"wrote {FIXTURE.relative_to(REPO)} ({FIXTURE.stat().st_size:,} bytes, {len(pages)} pages)")


if __name__ == "__main__":
    main()
