"""What a single page's plain text says about its chrome, without help from other pages of the corpus.

A web page converted to text (html2text, trafilatura's or a crawler's
converter) keeps traces of its markup: list bullets, ``#`` headings, markdown
links ``[label](url)``; its menus are runs of short list items, often nested and
often repeated (the same menu at the top and the bottom); its article is a
region of long lines of running prose. So, per non-blank line:

* markup: a list item (``*``, ``-``, ``+``, ``1.``) and how deep it is nested,
  a ``#`` heading, the share of its words inside markdown link labels, a bare
  URL, a table row;
* menu shape: the length of the run of short lines around it (blank lines
  skipped, as a menu's items are often one per paragraph), whether the same
  line occurs elsewhere on the page;
* where it sits relative to the page's prose (a *prose line* has at least
  ten words): the share of prose words in a window of lines around it, its
  distance in lines to the nearest prose line, the share of the page's prose
  words that come before it (0 above the article, 1 below it), and whether it
  sits inside, above or below the main text (the span of lines with the
  largest sum of words minus eight per line), and how far from it;
* a heading followed by prose (a section title of the content, kept with it);
* the page's share of bulleted list-item and ``#`` heading lines
  (``markup_page``): high on a web page converted to markdown-like text, near
  zero in reStructuredText, man pages, e-mails, licences or plain prose. These
  features are read on converted web pages only
  (:func:`curate.rewriting.block_head.is_web_page`), which have their own
  head, since the cues weigh differently (a list of short lines is a menu on
  the one, a table of options on the other).

Every value lies in [0, 1]; the classifier weighs them with the other features
(:mod:`curate.rewriting.features`).
"""

from __future__ import annotations

import math
import re

NAMES = ("list_item", "list_nested", "heading", "link_share", "has_url", "table_row", "short_run", "page_repeat",
         "prose", "prose_near", "prose_wide", "prose_distance", "prose_before", "in_main", "above_main", "below_main",
         "main_distance", "heading_then_prose", "list_far_from_prose", "short_far_from_prose", "markup_page")
_LIST = re.compile(r"^(\s*)(?:[*+\-•]|\d{1,3}[.)])\s+\S")
_HEADING = re.compile(r"^\s*#{1,6}\s*\S")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)]*)\)")
_URL = re.compile(r"https?://|www\.\w")
_TABLE = re.compile(r"^\s*\|.*\||^\s*-{3,}\|")
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?…。！？:][\"'”’)\]]*$")
#: a line of this many words or fewer counts as short (a menu item, a button, a date)
SHORT_WORDS = 4
#: lines around a line whose prose share is ``prose_near`` and ``prose_wide``
NEAR, WIDE = 3, 12
#: distance to the nearest prose line counted up to this many non-blank lines
FAR = 30
#: words a line must have to pull the main text's span towards it (see :func:`_main_span`)
MAIN_COST = 8


def is_prose(n_words: float) -> bool:
    """A line of running text: ten words or more (a wrapped paragraph's lines too, which end no sentence)."""
    return n_words >= 10


def delink(line: str) -> str:
    """The line with markdown links and images reduced to their labels (``[Home](/)`` -> ``Home``; an image
    without alt text -> ``·``, so that no line turns blank): a link menu then reads as the menu it is, and a
    sentence with a link as the sentence."""
    return _LINK.sub(lambda m: m.group(1) if m.group(1).strip() else "·", line) if "](" in line else line


def page_features(lines: list[str], index: list[int], words: dict[int, float],
                  linked: list[str] | None = None) -> dict[int, dict[str, float]]:
    """The :data:`NAMES` values of every non-blank line in ``index`` (ascending), ``words`` its word count;
    ``lines`` with links reduced to labels (:func:`delink`), ``linked`` as written (default: ``lines``), for the
    share of words inside link labels."""
    linked = linked or lines
    n = len(index)
    texts = [lines[i].strip() for i in index]
    counts = [words[i] for i in index]
    prose = [is_prose(c) for c in counts]
    prose_words = [c if p else 0.0 for c, p in zip(counts, prose)]
    cum_words, cum_prose = _prefix(counts), _prefix(prose_words)
    total_prose = cum_prose[-1]
    distance = _distance_to(prose)
    shortish = [c <= SHORT_WORDS for c in counts]
    run = _run_lengths(shortish)
    seen: dict[str, int] = {}
    for t in texts:
        key = " ".join(t.lower().split())
        seen[key] = seen.get(key, 0) + 1
    main = _main_span(counts)
    markup = markup_share(lines)
    out: dict[int, dict[str, float]] = {}
    for k, i in enumerate(index):
        text, raw = texts[k], lines[i]
        listed = _LIST.match(raw)
        heading = bool(_HEADING.match(raw))
        near = _window_share(cum_prose, cum_words, k, NEAR)
        wide = _window_share(cum_prose, cum_words, k, WIDE)
        before = ((cum_prose[k] + prose_words[k] / 2) / total_prose) if total_prose else 0.5
        far = min(FAR, distance[k]) / FAR
        if main is None:  # no prose at all: neither inside nor outside a main text
            to_main, inside, above, below = FAR, False, False, False
        else:
            to_main = main[0] - k if k < main[0] else max(0, k - main[1])
            inside, above, below = main[0] <= k <= main[1], k < main[0], k > main[1]
        nxt = k + 1 < n and prose[k + 1]
        out[i] = {
            "list_item": float(bool(listed)),
            "list_nested": float(bool(listed) and len(listed.group(1).expandtabs()) >= 4),
            "heading": float(heading),
            "link_share": _link_share(linked[i]),
            "has_url": float(bool(_URL.search(text))),
            "table_row": float(bool(_TABLE.match(raw))),
            "short_run": math.log1p(run[k]) / math.log1p(20) if shortish[k] else 0.0,
            "page_repeat": float(seen[" ".join(text.lower().split())] >= 2),
            "prose": float(prose[k]),
            "prose_near": near,
            "prose_wide": wide,
            "prose_distance": far,
            "prose_before": before,
            "in_main": float(inside),
            "above_main": float(above),
            "below_main": float(below),
            "main_distance": min(FAR, to_main) / FAR,
            "heading_then_prose": float((heading or (counts[k] <= 12 and not _SENTENCE_END.search(text))) and nxt),
            "list_far_from_prose": float(bool(listed)) * (1.0 - wide),
            "short_far_from_prose": float(shortish[k]) * far,
            "markup_page": markup,
        }
    return out


#: a bulleted (not numbered) list item: numbered clauses are common in licences and documentation too
_BULLET = re.compile(r"^\s*[*+\-•]\s+\S")


def markup_share(lines: list[str]) -> float:
    """Share of the non-blank lines that are bulleted list items or ``#`` headings."""
    marked = total = 0
    for line in lines:
        if line.strip():
            total += 1
            marked += bool(_BULLET.match(line) or _HEADING.match(line))
    return marked / max(1, total)


def has_heading_and_bullet(lines: list[str]) -> bool:
    """Whether a line is a ``#`` heading and another a bulleted list item (a ``#`` alone may open a code
    comment)."""
    return any(_HEADING.match(line) for line in lines) and any(_BULLET.match(line) for line in lines)


def _prefix(values: list[float]) -> list[float]:
    out = [0.0]
    for v in values:
        out.append(out[-1] + v)
    return out


def _window_share(cum_prose: list[float], cum_words: list[float], k: int, width: int) -> float:
    lo, hi = max(0, k - width), min(len(cum_words) - 1, k + width + 1)
    total = cum_words[hi] - cum_words[lo]
    return (cum_prose[hi] - cum_prose[lo]) / total if total else 0.0


def _distance_to(flags: list[bool]) -> list[int]:
    """Per position, the distance to the nearest True (a large number when there is none)."""
    n = len(flags)
    out = [10 ** 6] * n
    last = None
    for k in range(n):
        if flags[k]:
            last = k
        if last is not None:
            out[k] = k - last
    last = None
    for k in range(n - 1, -1, -1):
        if flags[k]:
            last = k
        if last is not None:
            out[k] = min(out[k], last - k)
    return out


def _run_lengths(flags: list[bool]) -> list[int]:
    """Per position, the length of the run of True values it belongs to (0 outside runs)."""
    out = [0] * len(flags)
    k = 0
    while k < len(flags):
        if not flags[k]:
            k += 1
            continue
        j = k
        while j + 1 < len(flags) and flags[j + 1]:
            j += 1
        out[k:j + 1] = [j - k + 1] * (j - k + 1)
        k = j + 1
    return out


def _main_span(counts: list[float]) -> tuple[int, int] | None:
    """Positions (in the non-blank lines) of the first and last line of the main text: the run of lines with the
    largest sum of ``words - MAIN_COST`` (a maximum-sum segment, as Body Text Extraction finds the article in a
    page's tokens): long lines pull a run in, menus of short lines push it away, and a short heading or caption
    between paragraphs is bridged. None when no line is longer than ``MAIN_COST`` words."""
    best, best_sum = None, 0.0
    start, acc = 0, 0.0
    for k, c in enumerate(counts):
        if acc <= 0:
            start, acc = k, 0.0
        acc += c - MAIN_COST
        if acc > best_sum:
            best, best_sum = (start, k), acc
    return best


def _link_share(text: str) -> float:
    """Share of the line's words that sit inside markdown link labels (``[label](url)``)."""
    labels = _LINK.findall(text)
    if not labels:
        return 0.0
    inside = sum(len(_WORD.findall(label)) for label, _ in labels)
    outside = len(_WORD.findall(_LINK.sub(" ", text)))
    return inside / max(1, inside + outside)
