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
# C4's terminal punctuation (Raffel et al. 2020; DataTrove's C4 filter adds the single quote): a kept line
# ends with one of these (and not with "...").
C4_TERMINAL_PUNCTUATION = ".?!\"'"
# FineWeb's terminal punctuation (DataTrove's TERMINAL_PUNCTUATION, which FineWeb was filtered with): the
# sentence terminators of Unicode's scripts (full stops, question and exclamation marks), no quotes, no ellipsis.
FINEWEB_TERMINAL_PUNCTUATION = (
    "!.?\u0589\u061d\u061e\u061f\u06d4\u0700\u0701\u0702\u07f9\u0837\u0839\u083d\u083e\u0964\u0965"
    "\u104a\u104b\u1362\u1367\u1368\u166e\u1735\u1736\u17d4\u17d5\u17d6\u17d9\u17da\u1803\u1809\u1944"
    "\u1945\u1aa8\u1aa9\u1aaa\u1aab\u1b5a\u1b5b\u1b5e\u1b5f\u1b7d\u1b7e\u1c3b\u1c3c\u1c7e\u1c7f\u203c"
    "\u203d\u2047\u2048\u2049\u2e2e\u2e3c\u2e53\u2e54\u3002\ua4ff\ua60e\ua60f\ua6f3\ua6f7\ua876\ua877"
    "\ua8ce\ua8cf\ua92f\ua9c8\ua9c9\uaa5d\uaa5e\uaa5f\uaaf0\uaaf1\uabeb\ufe52\ufe56\ufe57\uff01\uff0e"
    "\uff1f\uff61\U00010a56\U00010a57\U00010f55\U00010f56\U00010f57\U00010f58\U00010f59\U00010f86"
    "\U00010f87\U00010f88\U00010f89\U00011047\U00011048\U000110be\U000110bf\U000110c0\U000110c1"
    "\U00011141\U00011142\U00011143\U000111c5\U000111c6\U000111cd\U000111de\U000111df\U00011238"
    "\U00011239\U0001123b\U0001123c\U000112a9\U0001144b\U0001144c\U000115c2\U000115c3\U000115c9"
    "\U000115ca\U000115cb\U000115cc\U000115cd\U000115ce\U000115cf\U000115d0\U000115d1\U000115d2"
    "\U000115d3\U000115d4\U000115d5\U000115d6\U000115d7\U00011641\U00011642\U0001173c\U0001173d"
    "\U0001173e\U00011944\U00011946\U00011a42\U00011a43\U00011a9b\U00011a9c\U00011c41\U00011c42"
    "\U00011ef7\U00011ef8\U00011f43\U00011f44\U00016a6e\U00016a6f\U00016af5\U00016b37\U00016b38"
    "\U00016b44\U00016e98\U0001bc9f\U0001da88"
)
# A token that has at least one character that is neither punctuation nor a symbol.
HAS_CONTENT = r"[^\pP\pS]"
LETTER = r"\pL"
EDGE_PUNCTUATION = r"^[\pP\pS]+|[\pP\pS]+$"
# The line boundaries of Python's str.splitlines (RE2 syntax).
SPLITLINES = r"\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x{85}\x{2028}\x{2029}]"
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


def measured_where(mask: np.ndarray, values: np.ndarray) -> pa.Array:
    """``values`` where ``mask`` is true, null elsewhere (a value measured only for some documents)."""
    return pa.array(values, mask=~np.asarray(mask, dtype=bool))


@dataclass
class Grouped:
    """Items of every document of a batch, in document order: item ``i`` belongs to document ``doc[i]``."""

    doc: np.ndarray
    n_docs: int

    def count(self, mask: pa.Array | np.ndarray | None = None) -> np.ndarray:
        """Items per document (only those where ``mask`` is true, if given)."""
        if mask is None:
            return np.bincount(self.doc, minlength=self.n_docs).astype(np.int64)
        return np.bincount(self.doc[np.asarray(mask, dtype=bool)], minlength=self.n_docs).astype(np.int64)

    def sum(self, weights: np.ndarray, mask: pa.Array | np.ndarray | None = None) -> np.ndarray:
        """Per-document sum of ``weights`` over items (where ``mask`` is true, if given)."""
        weights = np.asarray(weights, dtype=np.float64)
        if mask is not None:
            weights = weights * np.asarray(mask, dtype=bool)
        return np.bincount(self.doc, weights=weights, minlength=self.n_docs)


@dataclass
class Pieces(Grouped):
    """Pieces (words, lines or paragraphs) of every document of a batch; ``values[i]`` is in document ``doc[i]``.

    Pieces are non-empty unless made with ``keep_empty``; a document may have no pieces.
    """

    values: pa.Array

    @classmethod
    def from_lists(cls, lists: pa.Array, n_docs: int, trim: bool = False, keep_empty: bool = False,
                   keep_blank: bool = True) -> Pieces:
        """Flatten lists of strings; ``trim`` strips each piece, ``keep_blank=False`` leaves out pieces
        that are only whitespace (without stripping the others)."""
        if isinstance(lists, pa.ChunkedArray):
            lists = lists.combine_chunks()
        doc = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
        values = pc.list_flatten(lists)
        if trim:
            values = pc.utf8_trim_whitespace(values)
        if keep_empty:
            return cls(doc, n_docs, values)
        content = values if keep_blank else pc.utf8_trim_whitespace(values)
        keep = pc.greater(pc.binary_length(content), 0)
        return cls(doc[np.asarray(keep, dtype=bool)], n_docs, pc.filter(values, keep))

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


def split_lines(text: pa.Array, strip: bool = True) -> Pieces:
    """Lines (split at newlines, stripped unless ``strip`` is false), blank lines left out."""
    return Pieces.from_lists(pc.split_pattern(text, "\n"), len(text), trim=strip, keep_blank=strip)


def python_lines(text: pa.Array) -> Pieces:
    """Lines as Python's ``str.splitlines`` gives them: split at every line boundary it knows, not stripped,
    blank lines kept, no empty line after a final line break (DataTrove's C4 and Gopher quality lines)."""
    lists = pc.split_pattern_regex(text, SPLITLINES)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    pieces = Pieces.from_lists(lists, len(text), keep_empty=True)
    last = np.asarray(lists.offsets, dtype=np.int64)[1:] - 1
    keep = np.ones(len(pieces.values), dtype=bool)
    keep[last[np.asarray(pc.equal(pc.binary_length(pc.take(pieces.values, pa.array(last))), 0), dtype=bool)]] \
        = False
    return Pieces(pieces.doc[keep], pieces.n_docs, pc.filter(pieces.values, pa.array(keep)))


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
