"""The rule filters' values as DataTrove 0.10.1 measures them (``definition: datatrove``).

Each function returns the same values as the filter's ``paper`` measurement,
so the same rules and thresholds apply; only the definitions differ (listed
in docs/filters.md). Words are spaCy tokens (``spacy_words``), punctuation
tokens included, and every value follows DataTrove's code:

* ``gopher_quality``: word counts and mean length over tokens with a character
  outside DataTrove's punctuation set; ``#``, ellipsis and letter ratios over
  all tokens; lines from ``str.splitlines`` (blank ones counted); bullets are
  ``•`` and ``-``; stop words counted once each, case-sensitive.
* ``gopher_repetition``: an empty text fails; paragraphs split at runs of
  newlines after stripping the text, lines at runs of newlines, neither
  stripped; character shares over ``len(text)``; the top n-gram's share
  counts its spaces and counts it even when it occurs once; duplicate n-grams
  by DataTrove's greedy left-to-right scan.
* ``c4_filter``: lines from ``str.splitlines``; lines with a word over 1,000
  characters go; Wikipedia citation marks are removed before the
  punctuation check; sentences are spaCy sentencizer sentences; bad words are
  found with C4's regular expression on the lower-cased text. Bad words are
  counted only where no "lorem ipsum" or ``{`` drops the document, sentences
  only where no earlier rule does (DataTrove returns early; null for the
  others).
* ``fineweb_filter``: lines split at newlines, not stripped (trailing spaces
  defeat the punctuation check and count as characters); newlines per token,
  measured only for documents the line rules keep (DataTrove tokenizes no
  other; the column is null for the others).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

from curate.stages.ngram_hash import bigram_starts, combine, extend, occurrence_counts
from curate.stages.spacy_words import Tokens, gapped_sentence_counts, sentence_counts, spacy_words
from curate.stages.text_units import (
    C4_TERMINAL_PUNCTUATION,
    ELLIPSIS_END,
    FINEWEB_TERMINAL_PUNCTUATION,
    HAS_CONTENT,
    Pieces,
    ends_with_any,
    measured_where,
    python_lines,
    ratio,
    split_lines,
    split_words,
)

# DataTrove's C4 citation pattern (``\d`` is any Unicode digit there).
CITATION = r"\[\p{Nd}*\]|\[edit\]|\[citation needed\]"
# Python's ``\W`` (not a letter, digit or underscore), for C4's bad-word pattern.
NON_WORD = r"[^\pL\pN_]"
# Whitespace between words other than a single space (Python's str.isspace characters).
_OTHER_SPACE = r"\t\n\x0b\x0c\r\x1c-\x1f\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
ODD_GAP = rf"[ {_OTHER_SPACE}]{{2,}}|[{_OTHER_SPACE}]"
RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def chars(text: pa.Array) -> np.ndarray:
    return np.asarray(pc.utf8_length(text), dtype=np.int64)


def gopher_quality(text: pa.Array, stop_words: tuple[str, ...], bullets: str = "•-") -> dict[str, np.ndarray]:
    tokens = spacy_words(text)
    n_tokens = tokens.count()
    is_word = tokens.prop("is_word").astype(bool)
    words = tokens.count(is_word)
    hashes = np.asarray(pc.count_substring(text, "#"), dtype=np.int64)
    ellipses = (np.asarray(pc.count_substring(text, "..."), dtype=np.int64)
                + np.asarray(pc.count_substring(text, "…"), dtype=np.int64))
    lines = python_lines(text)
    line_count = lines.count()
    bullet = np.asarray(pc.is_in(pc.utf8_slice_codeunits(pc.utf8_ltrim_whitespace(lines.values), 0, 1),
                                 value_set=pa.array(list(bullets))), dtype=bool)
    ellipsis_line = np.asarray(pc.match_substring_regex(pc.utf8_rtrim_whitespace(lines.values), ELLIPSIS_END),
                               dtype=bool)
    return {
        "words": words,
        "mean_word_length": ratio(tokens.sum(tokens.prop("length"), is_word), words),
        "hash_ratio": ratio(hashes, n_tokens),
        "ellipsis_ratio": ratio(ellipses, n_tokens),
        "bullet_line_ratio": ratio(lines.count(bullet), line_count),
        "ellipsis_line_ratio": ratio(lines.count(ellipsis_line), line_count),
        "alpha_word_ratio": ratio(tokens.count(tokens.prop("has_letter").astype(bool)), n_tokens),
        "stop_words": _distinct(tokens, tokens.is_any(stop_words)),
    }


def _distinct(tokens: Tokens, mask: np.ndarray) -> np.ndarray:
    """Distinct token texts per document among the tokens where ``mask`` is true."""
    pairs = np.unique(np.stack([tokens.doc[mask], tokens.ids[mask]]), axis=1) if mask.any() else np.zeros((2, 0))
    return np.bincount(pairs[0].astype(np.int64), minlength=tokens.n_docs).astype(np.int64)


def gopher_repetition(text: pa.Array, top_ngrams: tuple[int, ...], dup_ngrams: tuple[int, ...]) -> dict:
    length = chars(text)
    out: dict[str, np.ndarray] = {"empty": length == 0}
    paragraphs = Pieces.from_lists(pc.split_pattern_regex(pc.utf8_trim_whitespace(text), r"\n\n+"), len(text),
                                   keep_empty=True)
    lines = Pieces.from_lists(pc.split_pattern_regex(text, r"\n+"), len(text), keep_empty=True)
    for unit, pieces in (("line", lines), ("paragraph", paragraphs)):
        repeat = ~pieces.first_occurrence()
        out[f"dup_{unit}_ratio"] = ratio(pieces.count(repeat), pieces.count())
        out[f"dup_{unit}_char_ratio"] = ratio(pieces.sum(pieces.lengths(), repeat), length)
    out.update(_ngram_values(spacy_words(text), length, top_ngrams, dup_ngrams))
    return out


def _ngram_values(tokens: Tokens, length: np.ndarray, top_ngrams: tuple[int, ...],
                  dup_ngrams: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Top n-gram shares (an n-gram that occurs once counts too) and greedy duplicate n-gram shares, over
    ``len(text)``.

    Only repeated n-grams are followed from one n to the next (an (n+1)-gram
    repeats only if its n-gram prefix does). A document without a repeated
    n-gram has its first n-gram as its top one (every count is 1; DataTrove's
    counter keeps the first of equals).
    """
    doc, n_docs = tokens.doc, tokens.n_docs
    ids = tokens.ids.astype(np.uint64) + np.uint64(1)
    length_sums = np.concatenate([[0.0], np.cumsum(tokens.prop("length"))])
    token_counts = tokens.count()
    first_token = np.searchsorted(doc, np.arange(n_docs))
    starts = bigram_starts(doc)
    hashes = combine(ids[starts], ids[starts + 1])
    out: dict[str, np.ndarray] = {}
    for n in range(2, max(*dup_ngrams, *top_ngrams) + 1):
        counts, groups = occurrence_counts(hashes, doc[starts])
        repeated = counts > 1
        starts, hashes, groups, counts = starts[repeated], hashes[repeated], groups[repeated], counts[repeated]
        gram_chars = length_sums[starts + n] - length_sums[starts]
        if n in top_ngrams:
            top = _top_chars(starts, counts, doc, gram_chars + n - 1, n_docs)
            single = (top == 0) & (token_counts >= n)
            first = first_token[single]
            top[single] = length_sums[first + n] - length_sums[first] + n - 1
            out[f"top_{n}gram_ratio"] = ratio(top, length)
        if n in dup_ngrams:
            out[f"dup_{n}gram_ratio"] = ratio(_greedy_duplicates(starts, groups, doc[starts], gram_chars, n, n_docs),
                                              length)
        starts, hashes = extend(starts, hashes, ids, doc, n)
    return out


def _top_chars(starts: np.ndarray, counts: np.ndarray, doc: np.ndarray, gram_chars: np.ndarray,
               n_docs: int) -> np.ndarray:
    """Per document: characters of its most frequent n-gram times its count (ties: the one seen first)."""
    out = np.zeros(n_docs)
    if len(starts) == 0:
        return out
    start_doc = doc[starts]
    order = np.lexsort((-starts, counts, start_doc))  # each document's best occurrence sorts last
    last = order[np.flatnonzero(np.r_[start_doc[order][1:] != start_doc[order][:-1], True])]
    out[start_doc[last]] = counts[last] * gram_chars[last]
    return out


@njit(cache=True)
def _greedy_scan(starts, groups, docs, gram_chars, n, n_groups, n_docs):  # pragma: no cover - compiled
    seen = np.zeros(n_groups, np.bool_)
    out = np.zeros(n_docs)
    current, free_from = -1, -1
    for i in range(len(starts)):
        if docs[i] != current:
            current, free_from = docs[i], -1
        if starts[i] < free_from:
            continue
        if seen[groups[i]]:
            out[docs[i]] += gram_chars[i]
            free_from = starts[i] + n
        else:
            seen[groups[i]] = True
    return out


def _greedy_duplicates(starts: np.ndarray, groups: np.ndarray, docs: np.ndarray, gram_chars: np.ndarray, n: int,
                       n_docs: int) -> np.ndarray:
    """DataTrove's ``find_all_duplicate``: scanning left to right, an n-gram seen before adds its characters
    and the scan jumps past it (skipped n-grams are not remembered). Only repeated n-grams are given: one
    that occurs once is never seen before, and remembering it changes nothing."""
    if len(starts) == 0:
        return np.zeros(n_docs)
    return _greedy_scan(starts, groups, docs.astype(np.int64), gram_chars, n, int(groups.max()) + 1, n_docs)


def c4_lines(text: pa.Array) -> tuple[Pieces, np.ndarray, np.ndarray]:
    """DataTrove's C4 lines: stripped ``str.splitlines`` lines with citations removed, their word counts
    (before the removal) and whether they have a word over 1,000 characters."""
    lines = python_lines(text)
    stripped = pc.utf8_trim_whitespace(lines.values)
    words = np.asarray(pc.list_value_length(pc.utf8_split_whitespace(stripped)), dtype=np.int64)
    long_word = np.zeros(len(stripped), dtype=bool)
    longer = np.flatnonzero(np.asarray(pc.utf8_length(stripped), dtype=np.int64) > 1000)  # the rest cannot match
    long_word[longer] = np.asarray(pc.match_substring_regex(pc.take(stripped, pa.array(longer, pa.int64())),
                                                            r"\S{1000}\S"), dtype=bool)
    cleaned = pc.replace_substring_regex(stripped, CITATION, "")
    return Pieces(lines.doc, lines.n_docs, cleaned), words, long_word


def c4_terminal(lines: Pieces) -> np.ndarray:
    """Lines ending in C4's terminal punctuation and not in ``...`` (the unicode ellipsis is not terminal)."""
    return ends_with_any(lines, C4_TERMINAL_PUNCTUATION) & ~np.asarray(
        pc.ends_with(lines.values, "..."), dtype=bool)


def c4_sentences(lines: Pieces, kept: np.ndarray) -> np.ndarray:
    """spaCy sentencizer sentences per kept line (0 for the others).

    spaCy makes a token of any whitespace between words other than one space,
    and such a token can start a sentence: lines with such gaps are counted
    with one token per gap put between the cached tokens
    (``gapped_sentence_counts``), the others from the cached tokens alone.
    """
    out = np.zeros(len(kept), dtype=np.int64)
    values = pc.filter(lines.values, pa.array(kept))
    odd = np.asarray(pc.match_substring_regex(values, ODD_GAP), dtype=bool)
    counts = sentence_counts(spacy_words(values))
    counts[odd] = gapped_sentence_counts(pc.filter(values, pa.array(odd)).to_pylist())
    out[kept] = counts
    return out


def c4_bad_words(text: pa.Array, entries: tuple[str, ...], wanted: np.ndarray) -> dict[str, pa.Array]:
    """``bad_words`` (occurrences of C4's pattern in the lower-cased text) and ``bad_word_ratio`` (per word,
    whitespace words as in ``paper``) of the ``wanted`` documents, null for the others. Words are counted
    only where a bad word occurs (the ratio is 0.0 elsewhere)."""
    bad = np.zeros(len(text), dtype=np.int64)
    if wanted.any():
        found = pc.count_substring_regex(pc.utf8_lower(pc.filter(text, pa.array(wanted))),
                                         c4_bad_word_pattern(entries))
        bad[wanted] = np.asarray(found, dtype=np.int64)
    words = np.zeros(len(text), dtype=np.int64)
    if (bad > 0).any():
        tokens = split_words(pc.filter(text, pa.array(bad > 0)))
        words[bad > 0] = tokens.count(tokens.matches(HAS_CONTENT))
    return {"bad_words": measured_where(wanted, bad), "bad_word_ratio": measured_where(wanted, ratio(bad, words))}


@lru_cache(maxsize=4)
def c4_bad_word_pattern(entries: tuple[str, ...]) -> str:
    """C4's pattern: an entry between non-word characters (or the text's ends)."""
    alternatives = "|".join(RE2_SPECIAL.sub(r"\\\1", entry) for entry in entries)
    return f"(?:{NON_WORD}|^)(?:{alternatives})(?:{NON_WORD}|$)"


def fineweb_lines(text: pa.Array, short_line_chars: int) -> dict[str, np.ndarray]:
    """FineWeb's line values (every document)."""
    lines = split_lines(text, strip=False)
    line_count = lines.count()
    lengths = lines.lengths()
    repeat = ~lines.first_occurrence()
    return {
        "lines": line_count,
        "line_punct_ratio": ratio(lines.count(ends_with_any(lines, FINEWEB_TERMINAL_PUNCTUATION)), line_count),
        "short_line_ratio": ratio(lines.count(lengths <= short_line_chars), line_count),
        "dup_line_char_ratio": ratio(lines.sum(lengths, repeat), chars(text) - newline_counts(text)),
    }


def newline_counts(text: pa.Array) -> np.ndarray:
    return np.asarray(pc.count_substring(text, "\n"), dtype=np.int64)


def newline_ratio(text: pa.Array, wanted: np.ndarray) -> pa.Array:
    """Newlines per spaCy token for the ``wanted`` documents (null for the others): the only value that needs
    the tokenizer, measured where DataTrove measures it. A text without newlines is 0.0 untokenized."""
    newlines = np.zeros(len(text), dtype=np.int64)
    if wanted.any():
        newlines[wanted] = newline_counts(pc.filter(text, pa.array(wanted)))
    tokens = np.zeros(len(text), dtype=np.int64)
    tokenize = newlines > 0
    if tokenize.any():
        tokens[tokenize] = spacy_words(pc.filter(text, pa.array(tokenize))).count()
    return measured_where(wanted, ratio(newlines, tokens))
