"""``c4_filter``: the C4 heuristics (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a
Unified Text-to-Text Transformer", section 2.2), with the published thresholds, as DataTrove and Dolma
apply them.

C4 judges lines first: a *candidate* line ends with terminal punctuation
(``. ? ! " '``, not ``...``) and has at least 3 words; a candidate is *kept*
unless it mentions "javascript" or a cookie or privacy-policy phrase. A
document then fails if a candidate line contains "lorem ipsum", a candidate
line not dropped for "javascript" contains a curly bracket (C4 looks for
``{`` only there, so code-like lines that C4 would remove anyway do not
drop the page), the text has a bad word, or its kept lines have fewer than 5
sentences. With ``remove_lines: true`` the text is replaced by its kept
lines, as C4 did (off by default: a filter that edits text surprises).

Bad words: the English LDNOOBW list that C4 used (377 words and phrases,
shipped in ``curate/stages/data`` under CC BY 4.0, see the README there),
matched as whole lower-cased words (``paper``) or with C4's own regular
expression (``datatrove``); ``bad_words_file`` takes another list, one word
or phrase per line. Like every blunt list it flags ordinary uses ("Moby
Dick", "sex" in a biology text). Sentences are counted with a regular
expression in ``paper`` (runs of ``.!?`` and the like followed by a space or
the end of the line, at least one per kept line) and with spaCy's sentencizer
in ``datatrove``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.errors import ConfigError
from curate.stages import datatrove_rules
from curate.stages.rule_filter import Rule, RuleFilter, RuleParams
from curate.stages.text_units import (
    C4_TERMINAL_PUNCTUATION,
    ELLIPSIS_END,
    HAS_CONTENT,
    Pieces,
    bare_words,
    ends_with_any,
    measured_where,
    ratio,
    split_lines,
    split_words,
)

POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                  "use cookies")
SENTENCE_END = r"[.!?…。！？]+[\"'”’)\]]*(\s|$)"
# Measured values, in the order of their columns.
VALUES = ("lines", "terminal_punct_line_ratio", "short_line_ratio", "javascript_lines", "policy_lines", "kept_lines",
          "sentences", "has_lorem_ipsum", "has_curly_bracket", "bad_words", "bad_word_ratio")
LDNOOBW_EN = os.path.join(os.path.dirname(__file__), "data", "ldnoobw_en.txt")


class C4FilterParams(RuleParams):
    filter_lorem_ipsum: bool = Field(True, description="Drop documents with 'lorem ipsum' in a candidate "
                                                     "line.")
    filter_curly_bracket: bool = Field(True, description="Drop documents with '{' in a candidate line (C4's "
                                                         "guard against code; turn off for documentation).")
    max_bad_word_ratio: float | None = Field(0.0, ge=0, le=1, description="Drop documents whose share of bad words "
                                                                          "is larger (0.0: any bad word, as C4).")
    bad_words_file: str | None = Field(None, description="A bad-word list, one word or phrase per line "
                                                         "(default: C4's list, LDNOOBW English).")
    min_sentences: int | None = Field(5, ge=0, description="Drop documents with fewer sentences in kept lines.")
    min_words_per_line: int = Field(3, ge=0, description="Lines with fewer words are not kept.")
    require_terminal_punct: bool = Field(True, description="Lines not ending in terminal punctuation are not kept.")
    filter_javascript_lines: bool = Field(True, description="Lines mentioning 'javascript' are not kept.")
    filter_policy_lines: bool = Field(True, description="Lines with cookie or privacy-policy phrases are not kept.")
    remove_lines: bool = Field(False, description="Replace each text by its kept lines (C4's line removal).")


class C4Filter(RuleFilter[C4FilterParams]):
    """C4's rules; columns ``c4_<value>``.

    Values: ``lines`` (non-blank), ``terminal_punct_line_ratio``,
    ``short_line_ratio``, ``javascript_lines``, ``policy_lines``, ``kept_lines``,
    ``sentences`` (in kept lines), ``has_lorem_ipsum``, ``has_curly_bracket``,
    ``bad_words`` and ``bad_word_ratio`` (per word).

    With ``definition: datatrove``, the bad words are counted only in
    documents without "lorem ipsum" or ``{`` in a candidate line, and the
    sentences (spaCy) only in documents no earlier rule drops, as DataTrove's
    filters return early; both are null for the others.
    """

    name = "c4_filter"
    Params = C4FilterParams
    prefix = "c4_"
    rules = (
        Rule("lorem_ipsum", "has_lorem_ipsum", "filter_lorem_ipsum", "flag"),
        Rule("curly_bracket", "has_curly_bracket", "filter_curly_bracket", "flag"),
        Rule("bad_words", "bad_word_ratio", "max_bad_word_ratio", "max"),
        Rule("too_few_sentences", "sentences", "min_sentences", "min"),
    )

    def __init__(self, params: C4FilterParams | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        path = self.params.bad_words_file
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"c4_filter: bad_words_file {path} does not exist; give a text file with one "
                                    f"word or phrase per line, or leave it out for the built-in list")

    def measure(self, text: pa.Array) -> dict[str, Any]:
        p = self.params
        if self.datatrove:
            lines, line_words, long_word = datatrove_rules.c4_lines(text)
            terminal = datatrove_rules.c4_terminal(lines)
        else:
            lines = split_lines(text)
            line_words = np.asarray(pc.list_value_length(pc.utf8_split_whitespace(lines.values)), dtype=np.int64)
            long_word = np.zeros(len(line_words), dtype=bool)
            terminal = ends_with_any(lines, C4_TERMINAL_PUNCTUATION) & ~lines.matches(ELLIPSIS_END)
        lower = pc.utf8_lower(lines.values)
        short = line_words < p.min_words_per_line
        javascript = np.asarray(pc.match_substring(lower, "javascript"), dtype=bool)
        policy = np.asarray(pc.match_substring_regex(lower, "|".join(POLICY_PHRASES)), dtype=bool)
        candidate = ~short & ~long_word
        if p.require_terminal_punct:
            candidate &= terminal
        kept = candidate.copy()
        if p.filter_javascript_lines:
            kept &= ~javascript
        curly_checked = kept.copy()
        if p.filter_policy_lines:
            kept &= ~policy
        line_count = lines.count()
        measured: dict[str, Any] = {
            "lines": line_count,
            "terminal_punct_line_ratio": ratio(lines.count(terminal), line_count),
            "short_line_ratio": ratio(lines.count(short), line_count),
            "javascript_lines": lines.count(javascript),
            "policy_lines": lines.count(policy),
            "kept_lines": lines.count(kept),
            "has_lorem_ipsum": lines.count(candidate & np.asarray(pc.match_substring(lower, "lorem ipsum"),
                                                                  dtype=bool)) > 0,
            "has_curly_bracket": lines.count(curly_checked & np.asarray(pc.match_substring(lines.values, "{"),
                                                                        dtype=bool)) > 0,
        }
        if self.datatrove:  # each value only where the earlier rules keep the document, as DataTrove returns early
            entries = _word_list(p.bad_words_file or LDNOOBW_EN)
            measured.update(datatrove_rules.c4_bad_words(text, entries, self.undecided(measured)))
            wanted = self.undecided(measured)
            sentences = lines.sum(datatrove_rules.c4_sentences(lines, kept & wanted[lines.doc])).astype(np.int64)
            measured["sentences"] = measured_where(wanted, sentences)
        else:
            words, bad = _bad_words(text, p.bad_words_file)
            measured.update(bad_words=bad, bad_word_ratio=ratio(bad, words), sentences=self._sentences(lines, kept))
        measured = {name: measured[name] for name in VALUES}
        if p.remove_lines:
            kept_lists = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(lines.count(kept))], pa.int32()),
                                                  pc.filter(lines.values, pa.array(kept)))
            measured["_kept_text"] = pc.binary_join(kept_lists, "\n")
        return measured

    def _sentences(self, lines: Pieces, kept: np.ndarray) -> np.ndarray:
        """Sentences in kept lines, by the regular expression (``paper``)."""
        sentences = np.maximum(1, np.asarray(pc.count_substring_regex(lines.values, SENTENCE_END), dtype=np.int64))
        return lines.sum(sentences, kept).astype(np.int64)

    def edit(self, batch: pa.Table, measured: dict[str, Any]) -> pa.Table:
        if "_kept_text" not in measured:
            return batch
        return batch.set_column(batch.schema.get_field_index("text"), "text", measured["_kept_text"])


def _bad_words(text: pa.Array, path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Words per document and occurrences of bad words and phrases among them (whole lower-cased words)."""
    entries = _word_list(path or LDNOOBW_EN)
    tokens = split_words(text)
    words = tokens.count(tokens.matches(HAS_CONTENT))
    lower = pc.utf8_lower(text)
    single = [entry for entry in entries if " " not in entry]
    bad = tokens.count(pc.is_in(bare_words(tokens), value_set=pa.array(single, pa.string())))
    phrases = [entry for entry in entries if " " in entry]
    if phrases:
        pattern = r"\b(?:" + "|".join(re.escape(phrase) for phrase in phrases) + r")\b"
        bad = bad + np.asarray(pc.count_substring_regex(lower, pattern), dtype=np.int64)
    return words, bad


@lru_cache(maxsize=4)
def _word_list(path: str) -> tuple[str, ...]:
    """The distinct lower-cased entries of a word list (one word or phrase per line)."""
    with open(path, encoding="utf-8") as handle:
        return tuple(sorted({line.strip().lower() for line in handle if line.strip()}))
