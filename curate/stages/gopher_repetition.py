"""``gopher_repetition``: the repetition rules of MassiveText (Rae et al. 2021, appendix A.1.1, table A1),
with the paper's thresholds.

Duplicate lines and paragraphs are the second and later occurrences of a
(stripped) line or paragraph within the document, as a share of its lines or
paragraphs, and by characters as a share of the document's characters. The
n-gram values are shares of the characters of the document's words:

* top n-gram (n = 2, 3, 4): characters covered by the most frequent n-gram
  (counted once per occurrence, only if it occurs more than once; ties go to
  the longer n-gram), capped at 1;
* duplicate n-grams (n = 5 .. 10): characters of the words covered by any
  n-gram that occurs more than once (every occurrence, the first included,
  and overlapping occurrences counted once).

All n-grams of a batch are hashed and counted together in numpy (word ids from
one Arrow dictionary encoding, a polynomial rolling hash per n), so the cost is
a few array passes per batch, not a Python loop per document.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.stages import datatrove_rules
from curate.stages.ngram_hash import bigram_starts, combine, extend, occurrence_counts
from curate.stages.rule_filter import Rule, RuleFilter, RuleParams
from curate.stages.text_units import Pieces, ratio, split_lines, split_paragraphs, split_words

TOP_NGRAMS = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAMS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


def _ratio_field(default: float, what: str) -> float | None:
    return Field(default, ge=0, le=1, description=f"Drop documents where {what} is larger.")


class GopherRepetitionParams(RuleParams):
    max_dup_line_ratio: float | None = _ratio_field(0.30, "the share of duplicate lines")
    max_dup_paragraph_ratio: float | None = _ratio_field(0.30, "the share of duplicate paragraphs")
    max_dup_line_char_ratio: float | None = _ratio_field(0.20, "the share of characters in duplicate lines")
    max_dup_paragraph_char_ratio: float | None = _ratio_field(0.20, "the share of characters in duplicate "
                                                                    "paragraphs")
    max_top_2gram_ratio: float | None = _ratio_field(TOP_NGRAMS[2], "the character share of the top 2-gram")
    max_top_3gram_ratio: float | None = _ratio_field(TOP_NGRAMS[3], "the character share of the top 3-gram")
    max_top_4gram_ratio: float | None = _ratio_field(TOP_NGRAMS[4], "the character share of the top 4-gram")
    max_dup_5gram_ratio: float | None = _ratio_field(DUP_NGRAMS[5], "the character share of duplicate 5-grams")
    max_dup_6gram_ratio: float | None = _ratio_field(DUP_NGRAMS[6], "the character share of duplicate 6-grams")
    max_dup_7gram_ratio: float | None = _ratio_field(DUP_NGRAMS[7], "the character share of duplicate 7-grams")
    max_dup_8gram_ratio: float | None = _ratio_field(DUP_NGRAMS[8], "the character share of duplicate 8-grams")
    max_dup_9gram_ratio: float | None = _ratio_field(DUP_NGRAMS[9], "the character share of duplicate 9-grams")
    max_dup_10gram_ratio: float | None = _ratio_field(DUP_NGRAMS[10], "the character share of duplicate 10-grams")

    @property
    def drop_empty(self) -> bool:
        """DataTrove drops an empty text before any rule (``definition: datatrove`` only)."""
        return self.definition == "datatrove"


class GopherRepetition(RuleFilter[GopherRepetitionParams]):
    """Gopher's repetition rules; columns ``gopher_repetition_<value>``.

    Values: ``dup_line_ratio``, ``dup_paragraph_ratio``, ``dup_line_char_ratio``,
    ``dup_paragraph_char_ratio``, ``top_{2,3,4}gram_ratio``, ``dup_{5..10}gram_ratio``.
    """

    name = "gopher_repetition"
    Params = GopherRepetitionParams
    prefix = "gopher_repetition_"
    rules = (
        Rule("empty", "empty", "drop_empty", "flag"),
        Rule("duplicate_lines", "dup_line_ratio", "max_dup_line_ratio", "max"),
        Rule("duplicate_paragraphs", "dup_paragraph_ratio", "max_dup_paragraph_ratio", "max"),
        Rule("duplicate_line_chars", "dup_line_char_ratio", "max_dup_line_char_ratio", "max"),
        Rule("duplicate_paragraph_chars", "dup_paragraph_char_ratio", "max_dup_paragraph_char_ratio", "max"),
        *(Rule(f"top_{n}gram", f"top_{n}gram_ratio", f"max_top_{n}gram_ratio", "max") for n in TOP_NGRAMS),
        *(Rule(f"duplicate_{n}grams", f"dup_{n}gram_ratio", f"max_dup_{n}gram_ratio", "max") for n in DUP_NGRAMS),
    )

    def measure(self, text: pa.Array) -> dict[str, np.ndarray]:
        if self.datatrove:
            return datatrove_rules.gopher_repetition(text, tuple(TOP_NGRAMS), tuple(DUP_NGRAMS))
        chars = np.asarray(pc.utf8_length(text), dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        for unit, pieces in (("line", split_lines(text)), ("paragraph", split_paragraphs(text))):
            repeat = ~pieces.first_occurrence()
            out[f"dup_{unit}_ratio"] = ratio(pieces.count(repeat), pieces.count())
            out[f"dup_{unit}_char_ratio"] = ratio(pieces.sum(pieces.lengths(), repeat), chars)
        out.update(_ngram_values(split_words(text)))
        return out


def _ngram_values(words: Pieces) -> dict[str, np.ndarray]:
    """Top n-gram and duplicate n-gram character shares per document (see the module docstring).

    Only n-grams that can repeat are counted: an (n+1)-gram occurs twice only if
    the n-gram it starts with does, so each n keeps just the positions whose
    n-gram repeated, and the work shrinks quickly with n.
    """
    n_docs, doc = words.n_docs, words.doc
    lengths = words.lengths().astype(np.float64)
    total = words.sum(lengths)
    length_sums = np.concatenate([[0.0], np.cumsum(lengths)])
    ids = np.asarray(pc.dictionary_encode(words.values).indices, dtype=np.uint64) + np.uint64(1) \
        if len(words.values) else np.zeros(0, dtype=np.uint64)
    starts = bigram_starts(doc)
    hashes = combine(ids[starts], ids[starts + 1])
    out: dict[str, np.ndarray] = {}
    for n in range(2, max(DUP_NGRAMS) + 1):
        counts, _ = occurrence_counts(hashes, doc[starts])
        repeated = counts > 1
        starts, hashes, counts = starts[repeated], hashes[repeated], counts[repeated]
        if n in TOP_NGRAMS:
            out[f"top_{n}gram_ratio"] = _top_share(starts, counts, doc, length_sums, n, total, n_docs)
        if n in DUP_NGRAMS:
            out[f"dup_{n}gram_ratio"] = _dup_share(starts, doc, lengths, n, total, n_docs)
        starts, hashes = extend(starts, hashes, ids, doc, n)
    return out


def _top_share(starts: np.ndarray, counts: np.ndarray, doc: np.ndarray, length_sums: np.ndarray, n: int,
               total: np.ndarray, n_docs: int) -> np.ndarray:
    """Character share of each document's most frequent repeated n-gram (ties: the most characters)."""
    out = np.zeros(n_docs)
    if len(starts) == 0:
        return out
    start_doc = doc[starts]
    chars = length_sums[starts + n] - length_sums[starts]
    order = np.lexsort((chars, counts, start_doc))  # each document's best occurrence sorts last
    last = order[np.flatnonzero(np.r_[start_doc[order][1:] != start_doc[order][:-1], True])]
    top_docs = start_doc[last]
    out[top_docs] = np.minimum(1.0, ratio(counts[last] * chars[last], total[top_docs]))
    return out


def _dup_share(dup_starts: np.ndarray, doc: np.ndarray, lengths: np.ndarray, n: int, total: np.ndarray,
               n_docs: int) -> np.ndarray:
    """Character share of the words covered by repeated n-grams (starting at ``dup_starts``)."""
    # +1 where a repeated n-gram starts, -1 n words later: a running sum above 0 marks covered words
    cover = np.bincount(dup_starts, minlength=len(lengths) + 1) - np.bincount(dup_starts + n,
                                                                             minlength=len(lengths) + 1)
    covered = np.cumsum(cover[:-1]) > 0
    return ratio(np.bincount(doc, weights=lengths * covered, minlength=n_docs), total)
