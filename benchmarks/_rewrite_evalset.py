"""The cross-source evaluation set of the rewrite benchmarks: real text with boilerplate around and between it.

Content comes from several sources in ``../shared/corpora`` (documentation in
reStructuredText, AsciiDoc, POD and man format, news, edited prose, a novel,
e-mail bodies). Documents are grouped into *sites* of a few pages; every site
gets its own navigation header and footer (repeated on its pages, as on the
web), and every page gets 0-2 blocks between paragraphs (share bars, related
articles, newsletter and cookie banners). A block is glued to the text without
a blank line now and then, as HTML-to-text conversion does. Lines are labelled
content / boilerplate by construction. The labelled ``boilerplate_pairs`` pages
(full page text aligned with the main text) are added by site.

The boilerplate comes in two disjoint phrasing pools: ``fit`` sources get pool
A and ``eval`` sources pool B, so a method fitted on one is reported on text
and boilerplate it has not seen.
"""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass

from benchmarks._corpora import DEFAULT_CORPORA, read_corpus

FIT_SOURCES = ("python311_doc_rst", "bbc_news", "manpages_en")
EVAL_SOURCES = ("git_doc_asciidoc", "perl_doc_pod", "brown_corpus", "moby_dick_chapters", "spamassassin_emails")
PAIRS_FIT_SITE, PAIRS_EVAL_SITE = "postgresql-doc-15", "debian-handbook"


@dataclass
class EvalDoc:
    source: str
    lines: list[str]
    labels: list[bool | None]  # True content, False boilerplate, None blank
    paragraphs: list[int | None]  # content paragraph id per line


POOLS = {
    "A": {
        "nav": ["Home", "Products", "Solutions", "Pricing", "Blog", "About us", "Contact", "Careers", "Login",
                "Partners", "Resources", "Customers"],
        "seps": [" | ", " · ", "  "],
        "crumb": " > ",
        "cookie": ["We use cookies to improve your experience on our site. By continuing to browse, you agree to "
                   "our use of cookies.", "Accept all cookies", "Manage preferences"],
        "footer": ["© {year} {site} Inc. All rights reserved.", "Privacy Policy | Terms of Use | Contact us",
                   "Follow us on Facebook and Twitter"],
        "share": ["Share this article:", "Facebook", "Twitter", "LinkedIn", "Email"],
        "related": "Related articles",
        "news": ["Subscribe to our newsletter", "Get the latest news delivered to your inbox every week.",
                 "Sign up"],
        "words": ["Cloud", "Guide", "Tips", "Update", "Release", "Launch", "Review", "Market", "Team", "Future"],
    },
    "B": {
        "nav": ["Start", "Documentation", "Community", "Download", "News", "Support", "Donate", "Events", "Forum",
                "Wiki", "Shop", "Jobs"],
        "seps": [" » ", " / ", " • "],
        "crumb": " › ",
        "cookie": ["This website stores cookies on your computer. These are used to collect information about "
                   "how you interact with the website.", "OK, got it", "Cookie settings"],
        "footer": ["Copyright {year}-{year2} the {site} project and contributors.",
                   "Content available under CC BY-SA 4.0 unless otherwise noted.", "Sitemap · Imprint · Privacy"],
        "share": ["Spread the word", "Post to Reddit", "Pin it", "WhatsApp", "Copy link"],
        "related": "You might also like",
        "news": ["Stay in the loop!", "Join 20,000 readers and receive our monthly digest.", "Register now"],
        "words": ["Notes", "Story", "Weekend", "Insider", "Picks", "Voices", "Ideas", "World", "Health", "Money"],
    },
}
SITES = ["Acme", "Northwind", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne", "Tyrell"]


def _read(name: str, limit: int) -> list[dict]:
    out = []
    for record in read_corpus(DEFAULT_CORPORA, name):
        if name == "spamassassin_emails":
            if record.get("label") != "ham" or "\n\n" not in record["text"]:
                continue
            record["text"] = record["text"].split("\n\n", 1)[1]  # the body, not the headers
        if len(record["text"].split()) >= 80:
            out.append(record)
        if len(out) >= limit:
            break
    return out


def _head(text: str, max_lines: int) -> list[str]:
    """The first paragraphs of a text, up to about ``max_lines`` lines, cut at a blank line."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[0].strip():
        lines.pop(0)
    if len(lines) > max_lines:
        cut = max((i for i in range(max_lines // 2, max_lines) if not lines[i].strip()), default=max_lines)
        lines = lines[:cut]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _site_chrome(rng: random.Random, pool: dict, site: str) -> tuple[list[str], list[str]]:
    nav = rng.sample(pool["nav"], rng.randint(4, 7))
    style = rng.random()
    if style < 0.4:
        header = [site, rng.choice(pool["seps"]).join(nav)]
    elif style < 0.7:
        header = [f"{site} Docs", *nav]
    else:
        header = [rng.choice(pool["seps"]).join(nav), pool["crumb"].join([nav[0], rng.choice(pool["words"]), site])]
    year = rng.randint(2005, 2023)
    footer = [f.format(year=year, year2=year + rng.randint(1, 3), site=site) for f in pool["footer"]]
    return header, rng.sample(footer, rng.randint(2, 3))


def _mid_block(rng: random.Random, pool: dict) -> list[str]:
    kind = rng.choice(["share", "related", "news", "cookie"])
    if kind == "share":
        items = pool["share"]
        return [items[0], *rng.sample(items[1:], 3)] if rng.random() < 0.5 else [" ".join(items)]
    if kind == "related":
        titles = [" ".join(rng.sample(pool["words"], rng.randint(2, 4))) for _ in range(rng.randint(2, 4))]
        return [pool["related"], *titles]
    return list(pool[kind])


def inject(rng: random.Random, source: str, pages: list[list[str]], pool: dict) -> list[EvalDoc]:
    """Pages of one source with the boilerplate of their site (groups of 5 pages) around and between paragraphs."""
    docs = []
    for start in range(0, len(pages), 5):
        site = rng.choice(SITES)
        header, footer = _site_chrome(rng, pool, site)
        for page in pages[start:start + 5]:
            parts: list[tuple[list[str], bool]] = []  # (lines, is_content)
            gaps = [i for i in range(1, len(page)) if not page[i].strip() and page[i - 1].strip()]
            mids = sorted(rng.sample(gaps, min(len(gaps), rng.randint(0, 2))))
            cut = 0
            for gap in mids:
                parts.append((page[cut:gap], True))
                parts.append((_mid_block(rng, pool), False))
                cut = gap
            parts.append((page[cut:], True))
            parts = [(header, False), *parts, (footer, False)]
            lines: list[str] = []
            labels: list[bool | None] = []
            for k, (chunk, content) in enumerate(parts):
                chunk = list(chunk)
                while chunk and not chunk[0].strip():
                    chunk.pop(0)
                if k and lines and not (rng.random() < 0.3):
                    lines.append("")
                    labels.append(None)
                lines.extend(chunk)
                labels.extend((content if line.strip() else None) for line in chunk)
            docs.append(EvalDoc(source, lines, labels, paragraph_ids(lines, labels)))
    return docs


def paragraph_ids(lines: list[str], labels: list[bool | None]) -> list[int | None]:
    """Runs of content lines, split by blank and boilerplate lines."""
    out: list[int | None] = []
    current, previous = -1, False
    for label in labels:
        if label:
            if not previous:
                current += 1
            out.append(current)
        else:
            out.append(None)
        previous = bool(label)
    return out


def pair_labels(text: str, main: str) -> list[bool | None]:
    """Per line of a full page: content when aligned with a line of its main text."""
    lines = text.split("\n")
    matcher = difflib.SequenceMatcher(None, [line.strip() for line in lines],
                                      [line.strip() for line in main.split("\n")], autojunk=False)
    content: set[int] = set()
    for block in matcher.get_matching_blocks():
        content.update(range(block.a, block.a + block.size))
    return [None if not line.strip() else (i in content) for i, line in enumerate(lines)]


def pair_pages(site: str, limit: int, max_lines: int) -> list[EvalDoc]:
    docs = []
    for record in read_corpus(DEFAULT_CORPORA, "boilerplate_pairs"):
        if not record["id"].startswith(site):
            continue
        lines = record["text"].split("\n")
        if len(lines) > max_lines:
            continue
        labels = pair_labels(record["text"], record["main_text"])
        docs.append(EvalDoc(f"boilerplate_pairs:{site}", lines, labels, paragraph_ids(lines, labels)))
        if len(docs) >= limit:
            break
    return docs


def build(split: str, per_source: int, max_lines: int = 80, seed: int = 0) -> list[EvalDoc]:
    """The ``fit`` or ``eval`` half: its sources, its boilerplate pool, its boilerplate_pairs site."""
    rng = random.Random(f"{seed}:{split}")
    sources, pool, site = ((FIT_SOURCES, POOLS["A"], PAIRS_FIT_SITE) if split == "fit"
                           else (EVAL_SOURCES, POOLS["B"], PAIRS_EVAL_SITE))
    docs: list[EvalDoc] = []
    for source in sources:
        pages = [_head(r["text"], max_lines) for r in _read(source, per_source)]
        docs.extend(inject(rng, source, [p for p in pages if p], pool))
    docs.extend(pair_pages(site, per_source, max_lines * 4))
    return docs
