"""html_extract on 990 real web pages: content kept, chrome removed, pages per second on one core.

The pages are ``web_pages`` in ../shared/corpora (the evaluation pages of the
trafilatura project: news, blogs, shops, forums, government sites, about half
German), each with snippets of main content an extractor must keep and
snippets of page chrome it must remove (scoring and the snippets that count:
``benchmarks/_web_pages.py``; nothing is fitted here, so every page is
reported). Methods, all on the same pages in one process:

* ``html_extract``: the stage (trafilatura 2.x, default options), as a
  pipeline runs it, from the HTML and the page URL;
* ``html_extract favor_precision`` / ``favor_recall``: the stage's two options;
* ``trafilatura.extract``: the library called directly (the stage's output
  should be the same text; the number of pages where it differs is printed);
* ``resiliparse`` (the best-known fast peer, DCLM's extractor):
  ``extract_plain_text(main_content=True)``, skipped if not installed;
* ``keep_all`` (the simple baseline): the whole page as html2text rendered it,
  menus and footers included.

Scores are token-weighted shares over all pages, per page language (by
fastText on the content snippets) and for the worst language with at least
20 pages; a page with an empty output keeps nothing. Speed: pages per CPU
second of this process (one core; CPU time, not wall time, so that other jobs
on a shared machine slow it less), the best of ``--repeat`` passes over all
pages after a warm-up on five, the timed methods interleaved.

    python benchmarks/html_extract.py              # all 990 pages
    python benchmarks/html_extract.py --smoke      # 40 pages
    python benchmarks/html_extract.py --json out/html_extract.json --repeat 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _web_pages as web_pages  # noqa: E402
from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import DEFAULT_CORPORA, require_corpora  # noqa: E402
from benchmarks._web_pages import WebPage, page_counts  # noqa: E402
from curate.documents import DOCUMENT_SCHEMA  # noqa: E402
from curate.stage import DROP_REASON  # noqa: E402
from curate.stages.html_extract import HtmlExtract  # noqa: E402

MIN_PAGES = 20  # languages with fewer pages are listed, but not the worst language

Method = Callable[[list[WebPage]], list[str]]


def stage_method(**options: object) -> Method:
    def run(pages: list[WebPage]) -> list[str]:
        stage = HtmlExtract(**options)
        stage.setup()
        out: list[str] = []
        for start in range(0, len(pages), stage.batch_size):
            chunk = pages[start:start + stage.batch_size]
            table = pa.table({"id": [p.id for p in chunk], "text": [p.html for p in chunk],
                              "source": [p.source for p in chunk],
                              "meta": [json.dumps({"url": p.url}) if p.url else None for p in chunk],
                              "_order": list(range(start, start + len(chunk)))}, schema=DOCUMENT_SCHEMA)
            result, _ = stage.process_batch(table)
            dropped = result.column(DROP_REASON).to_pylist()
            out += ["" if reason else text for text, reason in zip(result.column("text").to_pylist(), dropped)]
        return out
    return run


def trafilatura_direct(pages: list[WebPage]) -> list[str]:
    import trafilatura

    return [trafilatura.extract(p.html, url=p.url or None, include_comments=False) or "" for p in pages]


def resiliparse(pages: list[WebPage]) -> list[str]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return [extract_plain_text(HTMLTree.parse(p.html), main_content=True) for p in pages]


def keep_all(pages: list[WebPage]) -> list[str]:
    return ["\n".join(p.lines) for p in pages]


def score(pages: list[WebPage], outputs: list[str]) -> dict:
    """Token-weighted content kept and chrome removed, overall and per language; empty outputs counted."""
    rows = np.array([page_counts(p, o)[:4] for p, o in zip(pages, outputs)], dtype=np.int64)

    def shares(mask: np.ndarray) -> dict:
        content, kept, chrome, gone = rows[mask].sum(axis=0).tolist()
        return {"pages": int(mask.sum()), "content_kept": round(kept / content, 4) if content else None,
                "chrome_removed": round(gone / chrome, 4) if chrome else None}

    languages = np.array([p.language for p in pages])
    by_language = {lang: shares(languages == lang) for lang in sorted(set(languages.tolist()))}
    big = {lang: s for lang, s in by_language.items() if s["pages"] >= MIN_PAGES}
    worst = min(big, key=lambda lang: (big[lang]["content_kept"] or 0) + (big[lang]["chrome_removed"] or 0),
                default=None)
    return {**shares(np.ones(len(pages), dtype=bool)), "empty_outputs": sum(not o.strip() for o in outputs),
            "by_language": by_language, "worst_language": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="write the full report here")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per method (the best counts)")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.repeat = 1
    require_corpora(DEFAULT_CORPORA, ["web_pages"], args.smoke)
    parts, left_out = web_pages.load(limit=40 if args.smoke else None)
    pages = [p for part in parts.values() for p in part]
    print(f"{len(pages)} pages; snippets scored: content {left_out['with_total'] - left_out['with']} of "
          f"{left_out['with_total']}, chrome {left_out['without_total'] - left_out['without']} of "
          f"{left_out['without_total']} (the others are not in the page's text)", flush=True)
    methods: dict[str, Method] = {
        "html_extract": stage_method(),
        "html_extract favor_precision": stage_method(favor_precision=True),
        "html_extract favor_recall": stage_method(favor_recall=True),
        "trafilatura.extract": trafilatura_direct,
        "keep_all": keep_all,
    }
    try:
        import resiliparse as _  # noqa: F401

        methods["resiliparse"] = resiliparse
    except ImportError:
        print("SKIP resiliparse: not installed (pip install resiliparse)")
    results, outputs = {}, {}
    for name, method in methods.items():
        outputs[name] = method(pages)
        results[name] = score(pages, outputs[name])
    speed = {name: 0.0 for name in methods}
    for _ in range(args.repeat):
        for name, method in methods.items():
            method(pages[:5])  # warm-up: imports and first-call caches are not timed
            started = time.process_time()
            method(pages)
            speed[name] = max(speed[name], len(pages) / max(time.process_time() - started, 1e-9))
    for name, r in results.items():
        r["pages_per_cpu_s"] = round(speed[name], 1)
        worst = r["worst_language"]
        worst_text = (f"worst language {worst} ({r['by_language'][worst]['pages']} pages): kept "
                      f"{r['by_language'][worst]['content_kept']:.4f} removed "
                      f"{r['by_language'][worst]['chrome_removed']:.4f}") if worst else "no language with enough pages"
        print(f"{name:30s} content kept {r['content_kept']:.4f}  chrome removed {r['chrome_removed']:.4f}  "
              f"empty {r['empty_outputs']:3d}  {r['pages_per_cpu_s']:8,.1f} pages/CPU-s  {worst_text}", flush=True)
    for lang, s in results["html_extract"]["by_language"].items():
        print(f"  html_extract on web:{lang:4s} ({s['pages']:3d} pages) kept {s['content_kept']}  "
              f"removed {s['chrome_removed']}")
    differ = sum(a.strip() != b.strip() for a, b in zip(outputs["html_extract"], outputs["trafilatura.extract"]))
    print(f"html_extract output differs from trafilatura.extract on {differ} of {len(pages)} pages")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"results": results, "left_out": left_out, "differ": differ}, indent=1))
    ours = results["html_extract"]
    for peer in ("resiliparse", "keep_all"):
        if peer not in results:
            continue
        ref = results[peer]
        compare(f"html_extract content kept (token-weighted, {len(pages)} web pages) vs {peer}", peer,
                ref["content_kept"], ours["content_kept"], "share")
        compare(f"html_extract chrome removed (token-weighted, {len(pages)} web pages) vs {peer}", peer,
                ref["chrome_removed"], ours["chrome_removed"], "share")
    if "resiliparse" in results:
        compare("html_extract pages per CPU second (one core) vs resiliparse", "resiliparse",
                results["resiliparse"]["pages_per_cpu_s"], ours["pages_per_cpu_s"], "pages/s")


if __name__ == "__main__":
    main()
