"""``c4_filter``: the C4 heuristics (Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a
Unified Text-to-Text Transformer", section 2.2), with the published thresholds, as DataTrove and Dolma
apply them.

C4 judges lines first: a line is *kept* if it ends with terminal punctuation
(not an ellipsis), has at least 3 words, does not mention "javascript" and
contains no cookie or privacy-policy phrase. A document then fails if it
contains "lorem ipsum", a curly bracket, a bad word, or fewer than 5 sentences
in its kept lines. With ``remove_lines: true`` the text is replaced by its
kept lines, as C4 did (off by default: a filter that edits text surprises).

Bad words: the English list (418 words) shipped by the ``profanityfilter``
package, read from its data file (the C4 list, LDNOOBW, is not in any package;
like it, this list also flags words such as "gay" or "breasts" that are not
offensive in most uses); ``bad_words_file`` takes another list, one word or
phrase per line. Sentences are counted with a regular
expression (runs of ``.!?`` and the like followed by a space or the end of the
line, at least one per kept line), not a trained sentence splitter.
"""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.errors import ConfigError
from curate.stage import FilterParams
from curate.stages.rule_filter import Rule, RuleFilter
from curate.stages.text_units import (
    ELLIPSIS_END,
    HAS_CONTENT,
    TERMINAL_PUNCTUATION,
    bare_words,
    ends_with_any,
    ratio,
    split_lines,
    split_words,
)

POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                  "use cookies")
SENTENCE_END = r"[.!?…。！？]+[\"'”’)\]]*(\s|$)"


class C4FilterParams(FilterParams):
    filter_lorem_ipsum: bool = Field(True, description="Drop documents containing 'lorem ipsum'.")
    filter_curly_bracket: bool = Field(True, description="Drop documents containing '{' (C4's guard against code; "
                                                         "turn off for documentation and code).")
    max_bad_word_ratio: float | None = Field(0.0, ge=0, le=1, description="Drop documents whose share of bad words "
                                                                          "is larger (0.0: any bad word, as C4).")
    bad_words_file: str | None = Field(None, description="A bad-word list, one word or phrase per line "
                                                         "(default: the profanityfilter list).")
    min_sentences: int | None = Field(5, ge=0, description="Drop documents with fewer sentences in kept lines.")
    min_words_per_line: int = Field(3, ge=0, description="Lines with fewer words are not kept.")
    require_terminal_punct: bool = Field(True, description="Lines not ending in terminal punctuation are not kept.")
    filter_javascript_lines: bool = Field(True, description="Lines mentioning 'javascript' are not kept.")
    filter_policy_lines: bool = Field(True, description="Lines with cookie or privacy-policy phrases are not kept.")
    remove_lines: bool = Field(False, description="Replace each text by its kept lines (C4's line removal).")


class C4Filter(RuleFilter):
    """C4's rules; columns ``c4_<value>``.

    Values: ``lines`` (non-blank), ``terminal_punct_line_ratio``,
    ``short_line_ratio``, ``javascript_lines``, ``policy_lines``, ``kept_lines``,
    ``sentences`` (in kept lines), ``has_lorem_ipsum``, ``has_curly_bracket``,
    ``bad_words`` and ``bad_word_ratio`` (per word).
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

    def __init__(self, params: Any = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        path = self.params.bad_words_file
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"c4_filter: bad_words_file {path} does not exist; give a text file with one "
                                    f"word or phrase per line, or leave it out for the built-in list")

    def measure(self, text: pa.Array) -> dict[str, Any]:
        p: C4FilterParams = self.params  # type: ignore[assignment]
        lines = split_lines(text)
        lower = pc.utf8_lower(lines.values)
        terminal = ends_with_any(lines, TERMINAL_PUNCTUATION) & ~lines.matches(ELLIPSIS_END)
        short = np.asarray(pc.list_value_length(pc.utf8_split_whitespace(lines.values)), dtype=np.int64) \
            < p.min_words_per_line
        javascript = np.asarray(pc.match_substring(lower, "javascript"), dtype=bool)
        policy = np.asarray(pc.match_substring_regex(lower, "|".join(POLICY_PHRASES)), dtype=bool)
        kept = ~short
        if p.require_terminal_punct:
            kept &= terminal
        if p.filter_javascript_lines:
            kept &= ~javascript
        if p.filter_policy_lines:
            kept &= ~policy
        sentences = np.maximum(1, np.asarray(pc.count_substring_regex(lines.values, SENTENCE_END), dtype=np.int64))
        line_count = lines.count()
        words, bad = _bad_words(text, p.bad_words_file)
        measured: dict[str, Any] = {
            "lines": line_count,
            "terminal_punct_line_ratio": ratio(lines.count(terminal), line_count),
            "short_line_ratio": ratio(lines.count(short), line_count),
            "javascript_lines": lines.count(javascript),
            "policy_lines": lines.count(policy),
            "kept_lines": lines.count(kept),
            "sentences": lines.sum(sentences, kept).astype(np.int64),
            "has_lorem_ipsum": np.asarray(pc.match_substring(text, "lorem ipsum", ignore_case=True), dtype=bool),
            "has_curly_bracket": np.asarray(pc.match_substring(text, "{"), dtype=bool),
            "bad_words": bad,
            "bad_word_ratio": ratio(bad, words),
        }
        if p.remove_lines:
            kept_lists = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(lines.count(kept))], pa.int32()),
                                                  pc.filter(lines.values, pa.array(kept)))
            measured["_kept_text"] = pc.binary_join(kept_lists, "\n")
        return measured

    def edit(self, batch: pa.Table, measured: dict[str, Any]) -> pa.Table:
        if "_kept_text" not in measured:
            return batch
        return batch.set_column(batch.schema.get_field_index("text"), "text", measured["_kept_text"])


def _bad_words(text: pa.Array, path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Words per document and occurrences of bad words and phrases among them."""
    single, phrases = _word_list(path)
    tokens = split_words(text)
    words = tokens.count(tokens.matches(HAS_CONTENT))
    bad = tokens.count(pc.is_in(bare_words(tokens), value_set=pa.array(single, pa.string())))
    if phrases:
        bad = bad + np.asarray(pc.count_substring_regex(pc.utf8_lower(text), phrases), dtype=np.int64)
    return words, bad


@lru_cache(maxsize=4)
def _word_list(path: str | None) -> tuple[list[str], str]:
    """Single bad words, and one RE2 pattern matching the multi-word phrases as whole words ('' if none)."""
    if path is None:
        spec = importlib.util.find_spec("profanityfilter")  # located, not imported
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("c4_filter needs the profanityfilter package for its bad-word list: "
                               "pip install profanityfilter (or set bad_words_file)")
        path = os.path.join(spec.submodule_search_locations[0], "data", "badwords.txt")
    with open(path, encoding="utf-8") as handle:
        entries = sorted({line.strip().lower() for line in handle if line.strip()})
    phrases = [entry for entry in entries if " " in entry]
    pattern = r"\b(?:" + "|".join(re.escape(p) for p in phrases) + r")\b" if phrases else ""
    return [entry for entry in entries if " " not in entry], pattern
