"""``gopher_quality``: the quality heuristics of MassiveText (Rae et al. 2021, "Scaling Language Models:
Methods, Analysis & Insights from Training Gopher", appendix A.1.1), with the paper's thresholds.

Words are whitespace-separated tokens with at least one character that is not punctuation or a symbol
(as in DataTrove); characters of scripts without spaces count as words (see ``text_units``). The rules
are made for English: the stop-word and mean-word-length rules fail most texts in other languages, so
put ``language`` first or run this filter in ``mode: annotate`` on multilingual data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.stages import datatrove_rules
from curate.stages.rule_filter import Rule, RuleFilter, RuleParams
from curate.stages.text_units import ELLIPSIS_END, HAS_CONTENT, LETTER, bare_words, ratio, split_lines, split_words

# The paper's stop words: a document needs at least two occurrences of these.
STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
# Characters that start a bullet-point line (after leading whitespace).
BULLETS = r"^[•‣◦⁃●○▪▫■□–\-*·]"


class GopherQualityParams(RuleParams):
    min_words: int | None = Field(50, ge=0, description="Drop documents with fewer words.")
    max_words: int | None = Field(100_000, ge=0, description="Drop documents with more words.")
    min_mean_word_length: float | None = Field(3.0, ge=0, description="Drop documents whose mean word length "
                                                                      "(characters) is lower.")
    max_mean_word_length: float | None = Field(10.0, ge=0, description="Drop documents whose mean word length "
                                                                       "(characters) is higher.")
    max_hash_ratio: float | None = Field(0.1, ge=0, description="Drop documents with more '#' per word.")
    max_ellipsis_ratio: float | None = Field(0.1, ge=0, description="Drop documents with more ellipses "
                                                                    "('...' or '…') per word.")
    max_bullet_line_ratio: float | None = Field(0.9, ge=0, le=1, description="Drop documents with a larger "
                                                                             "share of lines starting with a bullet.")
    max_ellipsis_line_ratio: float | None = Field(0.3, ge=0, le=1, description="Drop documents with a larger share "
                                                                               "of lines ending with an ellipsis.")
    min_alpha_word_ratio: float | None = Field(0.8, ge=0, le=1, description="Drop documents with a smaller share "
                                                                            "of words containing a letter.")
    min_stop_words: int | None = Field(2, ge=0, description="Drop documents with fewer occurrences of the stop "
                                                            "words the, be, to, of, and, that, have, with.")


class GopherQuality(RuleFilter[GopherQualityParams]):
    """Gopher's quality rules; columns ``gopher_quality_<value>``.

    Values: ``words``, ``mean_word_length``, ``hash_ratio``, ``ellipsis_ratio``
    (per word), ``bullet_line_ratio``, ``ellipsis_line_ratio`` (per non-blank
    line), ``alpha_word_ratio`` and ``stop_words``.
    """

    name = "gopher_quality"
    Params = GopherQualityParams
    prefix = "gopher_quality_"
    rules = (
        Rule("too_few_words", "words", "min_words", "min"),
        Rule("too_many_words", "words", "max_words", "max"),
        Rule("mean_word_length_too_short", "mean_word_length", "min_mean_word_length", "min"),
        Rule("mean_word_length_too_long", "mean_word_length", "max_mean_word_length", "max"),
        Rule("too_many_hashes", "hash_ratio", "max_hash_ratio", "max"),
        Rule("too_many_ellipses", "ellipsis_ratio", "max_ellipsis_ratio", "max"),
        Rule("too_many_bullet_lines", "bullet_line_ratio", "max_bullet_line_ratio", "max"),
        Rule("too_many_ellipsis_lines", "ellipsis_line_ratio", "max_ellipsis_line_ratio", "max"),
        Rule("too_few_alpha_words", "alpha_word_ratio", "min_alpha_word_ratio", "min"),
        Rule("too_few_stop_words", "stop_words", "min_stop_words", "min"),
    )

    def measure(self, text: pa.Array) -> dict[str, np.ndarray]:
        if self.datatrove:
            return datatrove_rules.gopher_quality(text, STOP_WORDS)
        tokens = split_words(text)
        is_word = tokens.matches(HAS_CONTENT)
        words = tokens.count(is_word)
        word_chars = tokens.sum(tokens.lengths(), is_word)
        stop = np.asarray(pc.is_in(bare_words(tokens), value_set=pa.array(STOP_WORDS)), dtype=bool)
        hashes = np.asarray(pc.count_substring(text, "#"), dtype=np.int64)
        ellipses = (np.asarray(pc.count_substring(text, "..."), dtype=np.int64)
                    + np.asarray(pc.count_substring(text, "…"), dtype=np.int64))
        lines = split_lines(text)
        line_count = lines.count()
        return {
            "words": words,
            "mean_word_length": ratio(word_chars, words),
            "hash_ratio": ratio(hashes, words),
            "ellipsis_ratio": ratio(ellipses, words),
            "bullet_line_ratio": ratio(lines.count(lines.matches(BULLETS)), line_count),
            "ellipsis_line_ratio": ratio(lines.count(lines.matches(ELLIPSIS_END)), line_count),
            "alpha_word_ratio": ratio(tokens.count(is_word & tokens.matches(LETTER)), words),
            "stop_words": tokens.count(stop),
        }
