"""The ``blocks`` preset: a light classifier over line features, and edits that never cut a paragraph.

The classifier is a logistic regression over :mod:`curate.rewriting.features`
(a line's shape, its neighbours' and its block's), fitted on labelled lines by
``benchmarks/rewrite_eval.py --save`` and shipped as a small JSON file of
weights. It scores every non-blank line with P(boilerplate).

The decision is taken on blocks (runs of non-blank lines), not on lines alone:

* a block whose lines all reach the threshold is removed whole;
* otherwise only a run of such lines at the block's start or end may go (a
  header glued above a paragraph, a share bar glued below it), never a line
  inside the block, so a kept paragraph never loses an inner line;
* a trailing run is shortened while the kept line before it is prose without
  a sentence end (the run may finish that sentence), and a leading run while
  the kept line after it starts in lower case (the run may begin it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from curate.rewriting.features import _TERMINAL, NAMES, blocks, document_features

WEIGHTS = Path(__file__).with_name("block_head.json")


@dataclass(frozen=True)
class BlockHead:
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float

    @classmethod
    def from_dict(cls, data: dict) -> BlockHead:
        if tuple(data["names"]) != tuple(NAMES):
            raise ValueError("the block head's weights were fitted on other features; refit them with "
                             "python benchmarks/rewrite_eval.py --save")
        return cls(tuple(data["names"]), np.array(data["mean"]), np.array(data["scale"]), np.array(data["coef"]),
                   float(data["intercept"]), float(data["threshold"]))

    def probabilities(self, lines: list[str], counts: list[int] | None = None) -> dict[int, float]:
        """P(boilerplate) of every non-blank line, by line index; ``counts``: documents each line occurs in."""
        index, rows = document_features(lines, counts)
        if not index:
            return {}
        x = (np.asarray(rows, dtype=np.float64) - self.mean) / self.scale
        z = x @ self.coef + self.intercept
        return dict(zip(index, (1.0 / (1.0 + np.exp(-z))).tolist()))


@lru_cache(maxsize=1)
def default_head() -> BlockHead:
    return BlockHead.from_dict(json.loads(WEIGHTS.read_text()))


def _prose_open(line: str) -> bool:
    """A line of running prose that does not end its sentence."""
    text = line.strip()
    return len(text.split()) >= 6 and not text.endswith(_TERMINAL)


def block_removals(lines: list[str], probabilities: dict[int, float], threshold: float) -> set[int]:
    """Lines to remove: whole boilerplate blocks and boilerplate runs at block edges (see the module docstring)."""
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
    return removed
