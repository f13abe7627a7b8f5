"""The ``blocks`` preset: a light classifier over line features, and edits that never cut a paragraph.

The classifier is a logistic regression over :mod:`curate.rewriting.features`
(a line's shape, its neighbours' and its block's), fitted on labelled lines by
``benchmarks/rewrite_eval.py --save`` and shipped as a small JSON file of
weights. It scores every non-blank line with P(boilerplate). The shipped head
has two models, each with its threshold: a logistic regression for other text
(documentation, e-mails, prose: the line's shape and context and how often it
repeats across the corpus), and boosted decision trees (:mod:`curate.rewriting.trees`)
for web pages converted to markdown-like text (:func:`is_web_page`), which also
read what the page's own text says about its chrome
(:mod:`curate.rewriting.page_features`), so that a single page of an unseen site
loses its menus and footers without help from other pages.

The decision is taken on blocks (runs of non-blank lines), not on lines alone:

* a block whose lines all reach the threshold is removed whole;
* otherwise a run of such lines at the block's start or end may go (a header
  glued above a paragraph, a share bar glued below it): a trailing run is
  shortened while the kept line before it is prose without a sentence end (the
  run may finish that sentence), and a leading run while the kept line after it
  starts in lower case (the run may begin it);
* a run inside the block (a banner glued to text on both sides) goes only when
  it sits between whole sentences: the kept line before it ends with ". ! ?",
  its own last line leaves no sentence open, the kept line after it starts
  with a capital letter, and neither of them is indented (so never inside a
  sentence, a list, code or other verbatim text);
* a heading stays with its section: a one-line block that looks like a
  heading (a ``#`` heading, or a short line without a sentence end) is kept
  when the next block is kept and opens with a line of prose (ten words or
  more): "Translations" above a paragraph on translations, an article's
  title above its first paragraph.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from curate.rewriting.features import _TERMINAL, NAMES, WEB_NAMES, blocks, document_features
from curate.rewriting.page_features import has_heading_and_bullet, markup_share
from curate.rewriting.trees import Trees

WEIGHTS = Path(__file__).with_name("block_head.json")
#: a page with this share of bulleted list-item and ``#`` heading lines or more is a converted web page (fit
#: documentation sources: 0.0 at their 90th percentile; fit web pages: 0.27 at their 10th)
MARKUP_PAGE = 0.15


def is_web_page(lines: list[str]) -> bool:
    """A web page converted to markdown-like text (html2text and the like): at least MARKUP_PAGE of its non-blank
    lines are bulleted list items or ``#`` headings, and it has both (a source-code page whose ``#`` comments
    read as headings has no bulleted list)."""
    return markup_share(lines) >= MARKUP_PAGE and has_heading_and_bullet(lines)


@dataclass(frozen=True)
class BlockHead:
    """One logistic regression (or, with ``trees``, boosted trees over the unscaled features) and its threshold;
    ``web``: it reads the features of a converted web page
    (:data:`curate.rewriting.features.WEB_NAMES`); ``web_head`` (for the shipped head): the one for converted
    web pages, which :meth:`probabilities` and :meth:`threshold_for` hand such pages to."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    web: bool = False
    web_head: BlockHead | None = None
    trees: Trees | None = None

    def _for(self, lines: list[str]) -> BlockHead:
        return self.web_head if self.web_head is not None and is_web_page(lines) else self

    def threshold_for(self, lines: list[str]) -> float:
        """The threshold of the head that judges this page (each is chosen on fit pages of its kind)."""
        return self._for(lines).threshold

    @classmethod
    def from_dict(cls, data: dict) -> BlockHead:
        web = bool(data.get("web", False))
        if tuple(data["names"]) != tuple(WEB_NAMES if web else NAMES):
            raise ValueError("the block head's weights were fitted on other features; refit them with "
                             "python benchmarks/rewrite_eval.py --save")
        web_head = cls.from_dict(data["web_head"]) if data.get("web_head") else None
        if "trees" in data:
            empty = np.zeros(0)
            return cls(tuple(data["names"]), empty, empty, empty, 0.0, float(data["threshold"]), web, web_head,
                       Trees.from_dict(data["trees"]))
        return cls(tuple(data["names"]), np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
                   float(data["intercept"]), float(data["threshold"]), web, web_head)

    def to_dict(self) -> dict:
        model = {"trees": self.trees.to_dict()} if self.trees is not None else {
            "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
            "coef": self.coef.round(6).tolist(), "intercept": round(self.intercept, 6)}
        return {"names": list(self.names), **model, "threshold": self.threshold, **({"web": True} if self.web else {}),
                **({"web_head": self.web_head.to_dict()} if self.web_head else {})}

    def probabilities(self, lines: list[str], counts: list[int] | None = None) -> dict[int, float]:
        """P(boilerplate) of every non-blank line, by line index; ``counts``: documents each line occurs in."""
        head = self._for(lines)
        index, rows = document_features(lines, counts, web=head.web)
        if not index:
            return {}
        x = np.asarray(rows, dtype=np.float64)
        z = head.trees.log_odds(x) if head.trees is not None else ((x - head.mean) / head.scale) @ head.coef + head.intercept
        return dict(zip(index, (1.0 / (1.0 + np.exp(-z))).tolist()))


@lru_cache(maxsize=1)
def default_head() -> BlockHead:
    return BlockHead.from_dict(json.loads(WEIGHTS.read_text()))


def _prose_open(line: str) -> bool:
    """A line of running prose that does not end its sentence."""
    text = line.strip()
    return len(text.split()) >= 6 and not text.endswith(_TERMINAL)


def block_removals(lines: list[str], probabilities: dict[int, float], threshold: float,
                   headings: bool = True) -> set[int]:
    """Lines to remove: whole boilerplate blocks and boilerplate runs at block edges or between whole sentences
    inside a block (see the module docstring); ``headings``: keep section headings with their section."""
    removed: set[int] = set()
    for first, last in blocks(lines):
        hit = [probabilities.get(i, 0.0) >= threshold for i in range(first, last + 1)]
        if all(hit):
            removed.update(range(first, last + 1))
            continue
        head = hit.index(False)  # lines [first, first + head) are a leading run
        tail = hit[::-1].index(False)
        while head and lines[first + head].strip()[:1].islower():
            head -= 1
        while tail and _prose_open(lines[last - tail]):
            tail -= 1
        removed.update(range(first, first + head))
        removed.update(range(last - tail + 1, last + 1))
        removed.update(_inner_runs(lines, hit, first, first + head, last - tail))
    return removed - _section_headings(lines, removed) if headings else removed


#: a heading has at most this many words
HEADING_WORDS = 12


def _section_headings(lines: list[str], removed: set[int]) -> set[int]:
    """Removed one-line heading blocks whose next block is kept and opens with prose (see the module docstring)."""
    spans = blocks(lines)
    out: set[int] = set()
    for (first, last), (nxt, _) in zip(spans, spans[1:]):
        text = lines[first].strip()
        words = len(text.split())
        heading = text.startswith("#") or not _SENTENCE_END.search(text)
        if (first == last and first in removed and heading and 0 < words <= HEADING_WORDS and nxt not in removed
                and len(lines[nxt].split()) >= 10):
            out.add(first)
    return out


#: A line that ends a sentence: ". ! ?" (or their CJK forms), perhaps inside closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*$")


def _inner_runs(lines: list[str], hit: list[bool], first: int, start: int, end: int) -> list[int]:
    """Lines of the runs of hits inside ``lines[start:end + 1]`` (``hit`` is indexed from ``first``) that sit
    between whole sentences; ``start`` and ``end`` are kept lines."""
    out: list[int] = []
    k = start + 1
    while k < end:
        if not hit[k - first]:
            k += 1
            continue
        j = k
        while j + 1 < end and hit[j + 1 - first]:
            j += 1
        before, after = lines[k - 1], lines[j + 1]
        if (_SENTENCE_END.search(before.rstrip()) and not _prose_open(lines[j]) and after.strip()[:1].isupper()
                and not before[:1].isspace() and not after[:1].isspace()):  # indented: code, verbatim text
            out.extend(range(k, j + 1))
        k = j + 1
    return out
