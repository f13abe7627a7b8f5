"""Real web pages for the rewrite benchmarks: html2text output scored by snippets of content and of chrome.

``web_pages`` in ``../shared/corpora`` holds real pages (news, blogs, shops,
forums, government sites; about half German) with the page as fetched
(``html``), the whole page converted to plain text with html2text (``text``:
menus, share bars and footers included), snippets of main content an extractor
must keep (``with``) and snippets of page chrome it must remove (``without``).

Matching a snippet against an output: both are reduced to word tokens
(:func:`tokens`: markdown link and image syntax reduced to the label, soft
hyphens dropped, lower case, accents stripped, every other non-word character a
separator), and a snippet is present when its tokens occur as a contiguous run
of the output's tokens. Accents are stripped because the html2text conversion
lost them on some pages ("erhoht" for "erhöht") while the HTML kept them. A
snippet not found in the page's own text (a conversion that garbled it, or a
snippet taken from an attribute) cannot be kept or removed by a method working
on that text, so it is left out of every method's score; :func:`load` says how
many.

Pages are split by site (the registered domain: every page of ``wordpress.com``
or of one newspaper lands in one part) and, within each language, the sites
(by the language of most of their pages) are dealt in the order of a hash of
their domain into ``fit`` (half), ``heldout`` and ``confirm`` (a quarter each):
deterministic, no site in two parts.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import xxhash

from benchmarks._corpora import DEFAULT_CORPORA, read_corpus

SPLIT_SLOTS = ("fit", "fit", "heldout", "confirm")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_TOKEN = re.compile(r"\w+")
_HOST = re.compile(r"https?://([^/:?#]+)")
#: second-level labels under which a country's domains are registered (``bbc.co.uk``, ``laestrella.com.pa``)
_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "ac", "edu", "gob", "or", "ne"}
_TLD_LIKE = re.compile(r"^(?:[a-z]{2}|com|org|net|info|biz|edu|gov|eu|blog|news|online)$")


@dataclass
class WebPage:
    """A page as the rewrite benchmarks see it: its text's lines, line labels for fitting, snippets for scoring."""

    source: str  # "web:<language>"
    id: str
    lines: list[str]
    labels: list[bool | None]  # True: holds a content snippet, False: holds a chrome snippet, None: unknown/blank
    paragraphs: list[int | None]  # unused for scoring (snippets are), kept for the EvalDoc interface
    site: str
    language: str
    url: str
    html: str = field(repr=False, default="")
    keep: list[list[str]] = field(default_factory=list)  # token lists of the findable `with` snippets
    drop: list[list[str]] = field(default_factory=list)  # token lists of the findable `without` snippets


def tokens(text: str) -> list[str]:
    """Word tokens of ``text`` for snippet matching (see the module docstring)."""
    text = _LINK.sub(r" \1 ", text.replace("\xad", ""))
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _TOKEN.findall(text)


def _joined(words: list[str]) -> str:
    return " " + " ".join(words) + " "


def present(snippet: list[str], output: str) -> bool:
    return _joined(snippet) in output


def site_of(url: str, page_id: str) -> str:
    """The registered domain of a page (``news.bbc.co.uk`` -> ``bbc.co.uk``), from its URL or else its id."""
    match = _HOST.search(url or "")
    if match:
        labels = match.group(1).lower().removeprefix("www.").split(".")
    else:  # ids such as "hard::iwr.de.IWR-Pressedienst.html": the labels up to the first top-level-like one
        labels = []
        for label in page_id.split("::")[-1].lower().split("."):
            labels.append(label.split("-")[0])
            if len(labels) > 1 and _TLD_LIKE.match(labels[-1]):
                break
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


@functools.lru_cache(maxsize=1)
def _language_model():
    from curate.stages.language import default_model_path, load_fasttext

    return load_fasttext(default_model_path())


def language_of(texts: list[str]) -> str:
    """The language of a page's content snippets, by the language stage's default fastText model."""
    label = _language_model().predict(" ".join(" ".join(texts).split()), k=1)[0][0]
    return label.removeprefix("__label__")


def _line_labels(lines: list[str], keep: list[list[str]], drop: list[list[str]]) -> list[bool | None]:
    """True for lines that hold (part of) an occurrence of a content snippet, False for chrome snippets; a line
    holding both, or neither, stays None (unknown)."""
    owner: list[int] = []  # line index of every token
    words: list[str] = []
    for i, line in enumerate(lines):
        found = tokens(line)
        words.extend(found)
        owner.extend([i] * len(found))
    text = _joined(words)
    starts = {pos: k for k, pos in enumerate(m.start() - 1 for m in _TOKEN.finditer(text))}  # space before token
    hits: dict[int, set[bool]] = {}
    for snippets, content in ((keep, True), (drop, False)):
        for snippet in snippets:
            needle = _joined(snippet)
            pos = text.find(needle)
            while pos >= 0:
                first = starts[pos]
                for k in range(first, first + len(snippet)):
                    hits.setdefault(owner[k], set()).add(content)
                pos = text.find(needle, pos + 1)
    return [next(iter(hits[i])) if len(hits.get(i, ())) == 1 else None for i in range(len(lines))]


def load(limit: int | None = None) -> tuple[dict[str, list[WebPage]], dict[str, int]]:
    """The web pages by part (``fit``, ``heldout``, ``confirm``) and counts of the snippets left out."""
    pages: list[WebPage] = []
    left_out = {"with": 0, "without": 0, "with_total": 0, "without_total": 0}
    for record in read_corpus(DEFAULT_CORPORA, "web_pages", limit=limit):
        text = record["text"]
        page_words = _joined(tokens(text))
        kept: dict[str, list[list[str]]] = {}
        for key in ("with", "without"):
            snippets = [t for t in (tokens(s) for s in record[key]) if t]
            kept[key] = [s for s in snippets if present(s, page_words)]
            left_out[key] += len(snippets) - len(kept[key])
            left_out[f"{key}_total"] += len(snippets)
        lines = text.split("\n")
        language = language_of(record["with"])
        pages.append(WebPage(f"web:{language}", record["id"], lines, _line_labels(lines, kept["with"], kept["without"]),
                             [None] * len(lines), site_of(record.get("url", ""), record["id"]), language,
                             record.get("url", ""), record.get("html", ""), kept["with"], kept["without"]))
    by_site: dict[str, list[str]] = {}
    for page in pages:
        by_site.setdefault(page.site, []).append(page.language)
    site_language = {site: max(sorted(set(langs)), key=langs.count) for site, langs in by_site.items()}
    slot: dict[str, str] = {}
    for language in sorted(set(site_language.values())):  # sites of each language dealt in hash order
        sites = sorted((s for s, lang in site_language.items() if lang == language), key=lambda s: xxhash.xxh64_intdigest(s.encode()))
        slot.update({site: SPLIT_SLOTS[k % len(SPLIT_SLOTS)] for k, site in enumerate(sites)})
    parts: dict[str, list[WebPage]] = {name: [] for name in dict.fromkeys(SPLIT_SLOTS)}
    for page in pages:
        parts[slot[page.site]].append(page)
    return parts, left_out


def page_counts(page: WebPage, output: str) -> tuple[int, int, int, int, bool]:
    """Content tokens, content kept, chrome tokens, chrome removed, whether a content snippet was cut (absent,
    but its first or last third present, three tokens at least: a paragraph partly removed) for one page's
    ``output``."""
    words = _joined(tokens(output))
    content = kept = chrome = gone = 0
    broken = False
    for snippet in page.keep:
        n = len(snippet)
        content += n
        if present(snippet, words):
            kept += n
        elif n >= 6:
            part = max(3, (n + 2) // 3)
            broken |= present(snippet[:part], words) or present(snippet[-part:], words)
    for snippet in page.drop:
        chrome += len(snippet)
        gone += len(snippet) * (not present(snippet, words))
    return content, kept, chrome, gone, broken


def trafilatura_outputs(pages: list[WebPage], cache: Path | None = None) -> list[str]:
    """trafilatura's main text of each page, extracted from the HTML (the upper reference: it sees the markup
    that html2text flattened). Outputs are cached in ``cache`` (a JSON file) per trafilatura version."""
    import trafilatura

    store: dict[str, str] = {}
    key = f"trafilatura {trafilatura.__version__}"
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        store = data.get(key, {})
    missing = [p for p in pages if p.id not in store]
    for page in missing:
        store[page.id] = trafilatura.extract(page.html, url=page.url or None, include_comments=False) or ""
    if cache is not None and missing:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({key: store}))
    return [store[p.id] for p in pages]
