"""Finding the personal data of a whole batch: Arrow selects the lines, Python regexes and checks decide.

A batch's texts are split into one flat array of lines (with each line's
document and character offset). For every kind, an RE2 prefilter runs over
all lines at once in Arrow; the kind's Python pattern and checks then run
only on the lines it selected, which on real text are a small share. User
patterns (which may span lines and use any Python syntax) run on whole
documents. Candidates of all kinds are then resolved by priority: a
candidate overlapping one of a higher-priority kind (user patterns, e-mail,
IBAN, card, IP, phone, in that order) is discarded, exempt ones included.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pii import checks, patterns
from curate.pii.checks import CheckOptions, Verdict

Check = Callable[[str, int, int, CheckOptions], "Verdict | None"]

# Built-in kinds in priority order, each with its (pattern, check) pairs.
KINDS: dict[str, tuple[tuple[patterns.Pattern, Check], ...]] = {
    "email": ((patterns.EMAIL, checks.check_email),),
    "iban": ((patterns.IBAN, checks.check_iban),),
    "card": ((patterns.CARD, checks.check_card),),
    "ip": ((patterns.IPV4, checks.check_ipv4), (patterns.IPV6, checks.check_ipv6)),
    "phone": ((patterns.PHONE, checks.check_phone),),
}


@dataclass
class Spans:
    """Kept candidates of a batch, sorted by document and start.

    ``start``/``end`` are character offsets in the document's text; ``kind``
    indexes ``kinds``; ``exempt`` marks those of the kind that are not
    personal data (left in the text, counted apart).
    """

    kinds: tuple[str, ...]
    n_docs: int
    doc: np.ndarray
    start: np.ndarray
    end: np.ndarray
    kind: np.ndarray
    exempt: np.ndarray
    values: list[str]

    def counts(self, exempt: bool = False) -> dict[str, np.ndarray]:
        """Per kind: spans per document (personal ones, or the exempt ones)."""
        chosen = self.exempt == exempt
        table = np.zeros((len(self.kinds), self.n_docs), dtype=np.int64)
        np.add.at(table, (self.kind[chosen], self.doc[chosen]), 1)
        return {kind: table[i] for i, kind in enumerate(self.kinds)}

    def personal(self) -> Spans:
        """Only the spans to redact."""
        keep = ~self.exempt
        return Spans(self.kinds, self.n_docs, self.doc[keep], self.start[keep], self.end[keep], self.kind[keep],
                     self.exempt[keep], [v for v, k in zip(self.values, keep.tolist()) if k])


@dataclass
class _Lines:
    """Every line of a batch: its text, document and character offset in the document."""

    values: pa.Array
    doc: np.ndarray
    offset: np.ndarray

    @classmethod
    def split(cls, text: pa.Array) -> _Lines:
        lists = pc.split_pattern(text, "\n")
        offsets = np.asarray(lists.offsets, dtype=np.int64)
        offsets -= offsets[0]
        values = pc.list_flatten(lists)
        doc = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
        lengths = np.asarray(pc.utf8_length(values), dtype=np.int64) + 1  # + the newline
        before = np.cumsum(lengths) - lengths
        first = before[offsets[:-1]] if len(before) else np.zeros(0, np.int64)
        return cls(values, doc, before - first[doc])


class Detector:
    """Finds the enabled kinds (built-in names from :data:`KINDS`, plus named user patterns) in texts.

    ``prefilter=False`` runs the Python patterns on every line (the same
    result, slower; for checking the prefilters).
    """

    def __init__(self, kinds: tuple[str, ...], user_patterns: Mapping[str, str] | None = None,
                 options: CheckOptions | None = None, prefilter: bool = True) -> None:
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; built-in kinds: {', '.join(KINDS)}")
        self.user = {name: re.compile(regex) for name, regex in (user_patterns or {}).items()}
        self.builtin = tuple(kind for kind in KINDS if kind in kinds)
        self.kinds = (*self.user, *self.builtin)  # priority order
        self.options = options or CheckOptions()
        self.prefilter = prefilter

    def find(self, text: pa.Array) -> Spans:
        """Every kept candidate (personal and exempt) of every document of ``text`` (no nulls)."""
        found: list[tuple[int, int, int, int, bool, str]] = []  # doc, priority, start, end, exempt, value
        if self.user:
            documents = text.to_pylist()
            for priority, regex in enumerate(self.user.values()):
                for doc, value in enumerate(documents):
                    found.extend((doc, priority, m.start(), m.end(), False, m.group())
                                 for m in regex.finditer(value) if m.end() > m.start())
        if self.builtin:
            lines = _Lines.split(text)
            for priority, kind in enumerate(self.builtin, start=len(self.user)):
                for pattern, check in KINDS[kind]:
                    self._scan(lines, priority, pattern, check, found)
        return self._resolve(found, len(text))

    def _scan(self, lines: _Lines, priority: int, pattern: patterns.Pattern, check: Check,
              found: list[tuple[int, int, int, int, bool, str]]) -> None:
        if self.prefilter:
            selected = np.flatnonzero(np.asarray(pc.match_substring_regex(lines.values, pattern.prefilter),
                                                 dtype=bool))
            texts = lines.values.take(pa.array(selected)).to_pylist()
        else:
            selected, texts = np.arange(len(lines.values)), lines.values.to_pylist()
        docs, offsets = lines.doc[selected].tolist(), lines.offset[selected].tolist()
        for line, doc, offset in zip(texts, docs, offsets):
            for match in pattern.regex.finditer(line):
                verdict = check(line, match.start(), match.end(), self.options)
                if verdict is not None:
                    found.append((doc, priority, offset + verdict.start, offset + verdict.end, verdict.exempt,
                                  verdict.value))

    def _resolve(self, found: list[tuple[int, int, int, int, bool, str]], n_docs: int) -> Spans:
        """Keep candidates by priority, then position, dropping any that overlaps one already kept."""
        found.sort(key=lambda c: (c[0], c[1], c[2]))
        kept: list[tuple[int, int, int, int, bool, str]] = []
        starts: list[int] = []
        ends: list[int] = []
        current = -1
        for candidate in found:
            doc, _, start, end, _, _ = candidate
            if doc != current:
                current, starts, ends = doc, [], []
            at = bisect.bisect_right(starts, start)
            if (at and ends[at - 1] > start) or (at < len(starts) and starts[at] < end):
                continue
            starts.insert(at, start)
            ends.insert(at, end)
            kept.append(candidate)
        kept.sort(key=lambda c: (c[0], c[2]))
        columns = list(zip(*kept)) if kept else [(), (), (), (), (), ()]
        return Spans(self.kinds, n_docs, np.array(columns[0], dtype=np.int64), np.array(columns[2], dtype=np.int64),
                     np.array(columns[3], dtype=np.int64), np.array(columns[1], dtype=np.int64),
                     np.array(columns[4], dtype=bool), list(columns[5]))
