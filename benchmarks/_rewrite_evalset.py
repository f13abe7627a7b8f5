"""The cross-source evaluation set of the rewrite benchmarks: real text with boilerplate around and between it.

Content comes from several sources in ``../shared/corpora`` (documentation in
reStructuredText, AsciiDoc, POD, HTML and man format in three languages, news,
edited prose, a novel, e-mail bodies, licences, a declaration in many
languages). Documents are grouped into *sites* of a few pages; every site
gets its own navigation header and footer (repeated on its pages, as on the
web), and every page gets 0-2 blocks between paragraphs (share bars, related
articles, newsletter and cookie banners). A block is glued to the text without
a blank line now and then, as HTML-to-text conversion does. Lines are labelled
content / boilerplate by construction. The labelled ``boilerplate_pairs`` pages
(full page text aligned with the main text) are added by site.

The boilerplate comes in disjoint phrasing pools: ``fit`` sources get pool A
and ``eval`` sources pool B, so a method fitted on one is reported on text and
boilerplate it has not seen. The ``confirm`` split (pool C, sources used by
neither other split, non-English among them, no labelled pages) was added
late, to check that what was changed while looking at ``eval`` results did not
just fit ``eval`` (docs/rewrite.md says how each split was used).

Some sources carry boilerplate of their own, found by their structure and
labelled boilerplate (:func:`native_boilerplate`): the mailing-list footers of
e-mail bodies (Mailman, Yahoo! Groups), the licence, bug-report and
translation-credit sections and the page footer of man pages, and the
navigation header and search footer of the Django HTML pages.
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass

from benchmarks._corpora import DEFAULT_CORPORA, read_corpus

FIT_SOURCES = ("python311_doc_rst", "bbc_news", "manpages_en")
EVAL_SOURCES = ("git_doc_asciidoc", "perl_doc_pod", "brown_corpus", "moby_dick_chapters", "spamassassin_emails")
CONFIRM_SOURCES = ("django_doc_html", "manpages_fr", "manpages_de", "udhr_multilingual", "spdx_license_texts")
PAIRS_FIT_SITE, PAIRS_EVAL_SITE = "postgresql-doc-15", "debian-handbook"
SPLITS = {"fit": (FIT_SOURCES, "A", PAIRS_FIT_SITE), "eval": (EVAL_SOURCES, "B", PAIRS_EVAL_SITE),
          "confirm": (CONFIRM_SOURCES, "C", None)}


@dataclass
class EvalDoc:
    source: str
    lines: list[str]
    labels: list[bool | None]  # True content, False boilerplate, None blank
    paragraphs: list[int | None]  # content paragraph id per line


class Variants(tuple):
    """Alternatives of one pool entry: each page's block picks one (pool A has several of each kind, so the
    classifier is fitted on varied phrasing; pools B and C have one)."""


def _pick(rng: random.Random, entry):
    return rng.choice(entry) if isinstance(entry, Variants) else entry


POOLS = {
    "A": {
        "nav": ["Home", "Products", "Solutions", "Pricing", "Blog", "About us", "Contact", "Careers", "Login",
                "Partners", "Resources", "Customers", "Services", "Portfolio", "Our story", "Investors", "Media",
                "Learn", "Developers", "API", "Marketplace", "Integrations", "Sign in", "Get started"],
        "seps": [" | ", " · ", "  ", " ¦ "],
        "crumb": Variants([" > ", " >> ", " - "]),
        "cookie": Variants([
            ["We use cookies to improve your experience on our site. By continuing to browse, you agree to our use "
             "of cookies.", "Accept all cookies", "Manage preferences"],
            ["This site uses cookies for analytics and personalised ads.", "I agree", "Learn more"],
            ["Your privacy matters to us. We and our vendors store and access information on your device.",
             "Agree and close", "Show purposes"],
            ["By clicking Accept, you consent to the storing of first- and third-party cookies on your device to "
             "enhance site navigation.", "Accept", "Decline"],
            ["We value your privacy", "We use technologies such as cookies to understand how visitors use this site "
             "and to show relevant content.", "Accept and continue", "Customise"],
        ]),
        "footer": ["© {year} {site} Inc. All rights reserved.", "Privacy Policy | Terms of Use | Contact us",
                   "Follow us on Facebook and Twitter", "{site} is a registered trademark of {site} Holdings Ltd.",
                   "All content © {site} {year}. Reproduction without permission is prohibited.",
                   "Terms of Service · Cookie Policy · Do Not Sell My Information",
                   "Questions? Email support@{site}.com", "Built with love in Berlin.", "Back to top"],
        "share": Variants([["Share this article:", "Facebook", "Twitter", "LinkedIn", "Email"],
                           ["Share:", "Tweet", "Share on Facebook", "Send by email", "Print"],
                           ["Found this useful? Share it", "X", "Threads", "Messenger", "SMS"]]),
        "related": Variants(["Related articles", "Read next", "Recommended for you", "Popular now", "More stories",
                             "Trending"]),
        "news": Variants([["Subscribe to our newsletter", "Get the latest news delivered to your inbox every week.",
                           "Sign up"],
                          ["Want more like this?", "Our free weekly email brings the best stories straight to you.",
                           "Subscribe"],
                          ["Don't miss out", "Enter your email address to receive updates and special offers.",
                           "Submit"],
                          ["Newsletter", "Be the first to hear about new releases and events.", "Join"]]),
        "words": ["Cloud", "Guide", "Tips", "Update", "Release", "Launch", "Review", "Market", "Team", "Future",
                  "Travel", "Design", "Sports", "Science", "Culture", "Business", "Opinion", "Video", "Events",
                  "Local"],
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
    "C": {
        "nav": ["Overview", "Tutorials", "Reference", "Changelog", "Roadmap", "Sponsors", "Team", "Press", "Status",
                "Security", "Translate", "Mirrors"],
        "seps": [" – ", " ~ ", " :: "],
        "crumb": " → ",
        "cookie": ["Our partners and we use tracking technologies to personalise content and measure traffic. You "
                   "can change your choice at any time.", "Allow all", "Reject non-essential"],
        "footer": ["Made with care by the {site} team since {year}.",
                   "Hosted by volunteers. Report a problem with this page.", "Terms – Trademarks – Accessibility"],
        "share": ["Send this page", "Mastodon", "Bluesky", "Telegram", "Hacker News"],
        "related": "More from this section",
        "news": ["Never miss an update", "One email a month with the best of our blog, no spam.", "Count me in"],
        "words": ["Primer", "Recipes", "Patterns", "Internals", "Tooling", "Migration", "Basics", "Scale",
                  "Deep Dive", "Roundup"],
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


_SEPARATOR = re.compile(r"^\s*(?:--\s*|[-_=~>]{10,}.*|.*[-_=~]{10,}[~>-]*)\s*$")
_LIST_WORDS = re.compile(r"mailing list|listinfo|unsubscribe|list maintainer|yahoo! groups", re.IGNORECASE)


def list_footer_start(lines: list[str]) -> int:
    """Where the mailing-list footer of an e-mail body starts (``len(lines)`` when it has none).

    The footer is the run of separator-led segments at the end (``--``, a line of underscores or
    dashes) that each name the list software: "mailing list", "listinfo", "unsubscribe", ..."""
    separators = [i for i, line in enumerate(lines) if _SEPARATOR.match(line)]
    start, end = len(lines), len(lines)
    for i in reversed(separators):
        if not _LIST_WORDS.search("\n".join(lines[i:end])):
            break
        start, end = i, i
    return start


#: Man page sections that hold the same notice on every page (licence, bug reports, translation credits,
#: colophon), in the languages of the man page sources.
_MAN_NOTICES = {"COPYRIGHT", "REPORTING BUGS", "TRANSLATION", "COLOPHON", "TRADEMARKS",
                "FEHLER MELDEN", "ÜBERSETZUNG", "SIGNALER DES BOGUES", "TRADUCTION",
                "INFORMAR DE ERRORES", "TRADUCCIÓN", "MARCAS REGISTRADAS",
                "ПЕРЕВОД", "ИНФОРМАЦИЯ ОБ ОШИБКАХ", "АВТОРСКИЕ ПРАВА",
                "跋", "报告错误", "版权", "[中文版维护人]", "[中文版最新更新]", "著作権", "バグ報告"}
_MAN_HEADING = re.compile(r"^[^\s\da-z][^a-z]*$")
#: The running header and footer line of a formatted man page: ``LS(1)  User Commands  LS(1)``.
_MAN_RUNNING = re.compile(r"^\S+\(\d\w*\)\s+.*\S\s*$|\S+\(\d\w*\)\s*$")


def native_boilerplate(source: str, lines: list[str]) -> list[bool]:
    """Per line of a source document: whether it is boilerplate the source itself carries."""
    out = [False] * len(lines)
    if source == "spamassassin_emails":
        start = list_footer_start(lines)
        out[start:] = [True] * (len(lines) - start)
    elif source.startswith("manpages_"):
        inside = False
        for i, line in enumerate(lines):
            if _MAN_HEADING.match(line):
                inside = line.strip() in _MAN_NOTICES
            running = i in (0, len(lines) - 1) and bool(_MAN_RUNNING.search(line))
            out[i] = inside or running
    elif source == "django_doc_html":
        stripped = [line.strip() for line in lines]
        if "up" in stripped[:20]:
            end = stripped.index("up") + 1
            out[:end] = [True] * end
        if "Quick search" in stripped:
            start = stripped.index("Quick search")
            out[start:] = [True] * (len(lines) - start)
    return out


def _site_chrome(rng: random.Random, pool: dict, site: str) -> tuple[list[str], list[str]]:
    nav = rng.sample(pool["nav"], rng.randint(4, 7))
    style = rng.random()
    if style < 0.4:
        header = [site, rng.choice(pool["seps"]).join(nav)]
    elif style < 0.7:
        header = [f"{site} Docs", *nav]
    else:
        crumb = _pick(rng, pool["crumb"])
        header = [rng.choice(pool["seps"]).join(nav), crumb.join([nav[0], rng.choice(pool["words"]), site])]
    year = rng.randint(2005, 2023)
    footer = [f.format(year=year, year2=year + rng.randint(1, 3), site=site) for f in pool["footer"]]
    return header, rng.sample(footer, rng.randint(2, 3))


def _mid_block(rng: random.Random, pool: dict) -> list[str]:
    kind = rng.choice(["share", "related", "news", "cookie"])
    if kind == "share":
        items = _pick(rng, pool["share"])
        return [items[0], *rng.sample(items[1:], 3)] if rng.random() < 0.5 else [" ".join(items)]
    if kind == "related":
        titles = [" ".join(rng.sample(pool["words"], rng.randint(2, 4))) for _ in range(rng.randint(2, 4))]
        return [_pick(rng, pool["related"]), *titles]
    return list(_pick(rng, pool[kind]))


def inject(rng: random.Random, source: str, pages: list[list[str]], pool: dict) -> list[EvalDoc]:
    """Pages of one source with the boilerplate of their site (groups of 5 pages) around and between paragraphs;
    the source's own boilerplate (:func:`native_boilerplate`) is labelled as such."""
    docs = []
    for start in range(0, len(pages), 5):
        site = rng.choice(SITES)
        header, footer = _site_chrome(rng, pool, site)
        for page in pages[start:start + 5]:
            native = native_boilerplate(source, page)
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
            offset = 0  # of the next content chunk in the page
            for k, (chunk, content) in enumerate(parts):
                chunk = list(chunk)
                flags = native[offset:offset + len(chunk)] if content else [True] * len(chunk)
                offset += len(chunk) if content else 0
                while chunk and not chunk[0].strip():
                    chunk.pop(0)
                    flags.pop(0)
                if k and lines and not (rng.random() < 0.3):
                    lines.append("")
                    labels.append(None)
                lines.extend(chunk)
                labels.extend((not own if line.strip() else None) for line, own in zip(chunk, flags))
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
    """The ``fit``, ``eval`` or ``confirm`` split: its sources, its boilerplate pool, its labelled pages."""
    rng = random.Random(f"{seed}:{split}")
    sources, pool, site = SPLITS[split]
    docs: list[EvalDoc] = []
    for source in sources:
        pages = [p for p in (_head(r["text"], max_lines) for r in _read(source, per_source)) if p]
        docs.extend(inject(rng, source, pages, POOLS[pool]))
    if site:
        docs.extend(pair_pages(site, per_source, max_lines * 4))
    return docs
