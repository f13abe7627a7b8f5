"""``fineweb_filter``: the three custom filters of FineWeb (Penedo et al. 2024, "The FineWeb Datasets",
section 3.6) with their published thresholds, plus the list-document rule DataTrove's
``FineWebQualityFilter`` applies with them.

* ``line_punct_ratio``: share of non-blank lines ending in terminal punctuation
  (fails below 0.12);
* ``short_line_ratio``: share of non-blank lines of at most 30 characters
  (fails above 0.67);
* ``dup_line_char_ratio``: characters in repeated lines (second and later
  occurrences) over the document's characters without newlines (fails above
  0.01);
* ``newline_ratio``: newlines per word (fails above 0.3; documents that are
  mostly one-word lines).

Terminal punctuation is FineWeb's set (DataTrove's ``TERMINAL_PUNCTUATION``):
the sentence terminators of every script (。 । ؟ ...), so non-Latin text is
not penalised for its punctuation, but no closing quotes and no ellipsis.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.stages import datatrove_rules
from curate.stages.rule_filter import Rule, RuleFilter, RuleParams
from curate.stages.text_units import (
    FINEWEB_TERMINAL_PUNCTUATION,
    HAS_CONTENT,
    ends_with_any,
    ratio,
    split_lines,
    split_words,
)


class FineWebFilterParams(RuleParams):
    min_line_punct_ratio: float | None = Field(0.12, ge=0, le=1, description="Drop documents with a smaller share "
                                                                             "of lines ending in punctuation.")
    max_short_line_ratio: float | None = Field(0.67, ge=0, le=1, description="Drop documents with a larger share "
                                                                             "of short lines.")
    short_line_chars: int = Field(30, ge=0, description="A line of at most this many characters is short.")
    max_dup_line_char_ratio: float | None = Field(0.01, ge=0, le=1, description="Drop documents with a larger share "
                                                                                "of characters in repeated lines.")
    max_newline_ratio: float | None = Field(0.3, ge=0, description="Drop documents with more newlines per word.")


class FineWebFilter(RuleFilter[FineWebFilterParams]):
    """FineWeb's rules; columns ``fineweb_<value>``: ``lines``, ``line_punct_ratio``,
    ``short_line_ratio``, ``dup_line_char_ratio``, ``newline_ratio``.

    With ``definition: datatrove``, ``newline_ratio`` (spaCy tokens) is
    measured only for documents the three line rules keep, as DataTrove's
    filter returns before tokenizing the others; it is null for them.
    """

    name = "fineweb_filter"
    Params = FineWebFilterParams
    prefix = "fineweb_"
    rules = (
        Rule("few_lines_end_in_punctuation", "line_punct_ratio", "min_line_punct_ratio", "min"),
        Rule("too_many_short_lines", "short_line_ratio", "max_short_line_ratio", "max"),
        Rule("duplicate_line_chars", "dup_line_char_ratio", "max_dup_line_char_ratio", "max"),
        Rule("too_many_newlines", "newline_ratio", "max_newline_ratio", "max"),
    )

    def measure(self, text: pa.Array) -> dict[str, np.ndarray]:
        if self.datatrove:
            measured = datatrove_rules.fineweb_lines(text, self.params.short_line_chars)
            measured["newline_ratio"] = datatrove_rules.newline_ratio(text, self.undecided(measured))
            return measured
        lines = split_lines(text)
        line_count = lines.count()
        lengths = lines.lengths()
        repeat = ~lines.first_occurrence()
        newlines = np.asarray(pc.count_substring(text, "\n"), dtype=np.int64)
        chars = np.asarray(pc.utf8_length(text), dtype=np.int64) - newlines
        tokens = split_words(text)
        return {
            "lines": line_count,
            "line_punct_ratio": ratio(lines.count(ends_with_any(lines, FINEWEB_TERMINAL_PUNCTUATION)), line_count),
            "short_line_ratio": ratio(lines.count(lengths <= self.params.short_line_chars), line_count),
            "dup_line_char_ratio": ratio(lines.sum(lengths, repeat), chars),
            "newline_ratio": ratio(newlines, tokens.count(tokens.matches(HAS_CONTENT))),
        }
