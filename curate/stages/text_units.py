"""Words, lines and paragraphs of a whole batch at once, as flat Arrow arrays.

The rule filters measure every document of a batch with a few Arrow kernels
and numpy reductions instead of a Python loop per document: a batch's texts
are split into one flat array of pieces (words, lines or paragraphs) plus the
index of the document each piece belongs to, and per-document values are sums
over pieces (``np.bincount``).

What a *word* is: a run of non-whitespace characters, except in scripts
written without spaces between words, where every Han ideograph, hiragana
and katakana character counts as one word (Korean is written with spaces) (so a Chinese or Japanese text of
400 characters has about 400 words, not 1, and no ratio divides by a word
count of zero for non-empty text). Thai, Lao, Khmer and Myanmar are also
written without spaces but their characters are not words; their words are
counted by whitespace, which undercounts them (whole phrases count as one).
Empty and whitespace-only documents have no words, lines or paragraphs; every
ratio over an empty denominator is 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Scripts without spaces whose characters are counted as words (RE2 syntax).
CJK_CHARACTER = r"[\p{Han}\p{Hiragana}\p{Katakana}]"
# Marks that end a sentence or line, in Latin and other scripts (full stops, question and exclamation marks,
# closing quotes).
TERMINAL_PUNCTUATION = ".!?\"'”’»…。！？｡．।॥؟۔።‼⁇⁈⁉︒﹒"
# A token that has at least one character that is neither punctuation nor a symbol.
HAS_CONTENT = r"[^\pP\pS]"
LETTER = r"\pL"
EDGE_PUNCTUATION = r"^[\pP\pS]+|[\pP\pS]+$"
# A line (or text) ending with an ellipsis.
ELLIPSIS_END = r"(\.\.\.|…)$"


def texts(batch: pa.Table) -> pa.Array:
    """The batch's ``text`` column as one array, nulls as empty strings."""
    column = batch.column("text")
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return pc.fill_null(array, "")


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` with 0.0 where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@dataclass
class Pieces:
    """Non-empty pieces of every document of a batch, in document order.

    ``values[i]`` belongs to document ``doc[i]``; a document may have no pieces.
    """

    values: pa.Array
    doc: np.ndarray
    n_docs: int

    @classmethod
    def from_lists(cls, lists: pa.Array, n_docs: int, trim: bool = False) -> Pieces:
        if isinstance(lists, pa.ChunkedArray):
            lists = lists.combine_chunks()
        doc = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
        values = pc.list_flatten(lists)
        if trim:
            values = pc.utf8_trim_whitespace(values)
        keep = pc.greater(pc.binary_length(values), 0)
        return cls(pc.filter(values, keep), doc[np.asarray(keep, dtype=bool)], n_docs)

    def count(self, mask: pa.Array | np.ndarray | None = None) -> np.ndarray:
        """Pieces per document (only those where ``mask`` is true, if given)."""
        if mask is None:
            return np.bincount(self.doc, minlength=self.n_docs).astype(np.int64)
        return np.bincount(self.doc[np.asarray(mask, dtype=bool)], minlength=self.n_docs).astype(np.int64)

    def sum(self, weights: np.ndarray, mask: pa.Array | np.ndarray | None = None) -> np.ndarray:
        """Per-document sum of ``weights`` over pieces (where ``mask`` is true, if given)."""
        weights = np.asarray(weights, dtype=np.float64)
        if mask is not None:
            weights = weights * np.asarray(mask, dtype=bool)
        return np.bincount(self.doc, weights=weights, minlength=self.n_docs)

    def lengths(self) -> np.ndarray:
        """Characters (code points) of each piece."""
        return np.asarray(pc.utf8_length(self.values), dtype=np.int64)

    def matches(self, pattern: str, ignore_case: bool = False) -> np.ndarray:
        """Whether each piece matches an RE2 ``pattern``."""
        return np.asarray(pc.match_substring_regex(self.values, pattern, ignore_case=ignore_case), dtype=bool)

    def first_occurrence(self) -> np.ndarray:
        """True for the first occurrence of each piece within its document, False for repeats."""
        if len(self.values) == 0:
            return np.zeros(0, dtype=bool)
        ids = np.asarray(pc.dictionary_encode(self.values).indices, dtype=np.int64)
        keys = self.doc * (int(ids.max()) + 1) + ids
        _, first = np.unique(keys, return_index=True)
        out = np.zeros(len(keys), dtype=bool)
        out[first] = True
        return out


def split_words(text: pa.Array) -> Pieces:
    """Words of every document (see the module docstring for scripts without spaces)."""
    spaced = text
    if len(text) and pc.any(pc.match_substring_regex(text, CJK_CHARACTER)).as_py():
        spaced = pc.replace_substring_regex(text, "(" + CJK_CHARACTER + ")", r" \1 ")
    return Pieces.from_lists(pc.utf8_split_whitespace(spaced), len(text))


def split_lines(text: pa.Array) -> Pieces:
    """Lines (split at newlines, stripped), blank lines left out."""
    return Pieces.from_lists(pc.split_pattern(text, "\n"), len(text), trim=True)


def split_paragraphs(text: pa.Array) -> Pieces:
    """Paragraphs (separated by a blank line), stripped."""
    return Pieces.from_lists(pc.split_pattern_regex(text, r"\n[ \t\r\f\v]*\n"), len(text), trim=True)


def bare_words(words: Pieces) -> pa.Array:
    """Each word lower-cased, without leading and trailing punctuation and symbols (to look up in word lists)."""
    return pc.replace_substring_regex(pc.utf8_lower(words.values), EDGE_PUNCTUATION, "")


def ends_with_any(pieces: Pieces, characters: str) -> np.ndarray:
    """Whether each piece ends with one of ``characters``."""
    last = pc.utf8_slice_codeunits(pieces.values, -1)
    return np.asarray(pc.is_in(last, value_set=pa.array(list(characters))), dtype=bool)
