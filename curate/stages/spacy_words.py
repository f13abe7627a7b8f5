"""DataTrove's English words: the tokens of spaCy's blank English tokenizer, for a whole batch at once.

DataTrove's rule filters (``split_into_words``) run ``spacy.blank("en")`` over
each text and keep every token that is not whitespace, punctuation included
(``don't`` is ``do`` + ``n't``, ``end.`` is ``end`` + ``.``). spaCy's tokenizer
treats every whitespace-separated chunk on its own, so the same tokens come
from tokenizing each *distinct* chunk once: a batch is split at whitespace,
its distinct chunks not seen before are tokenized together in one call
(joined by spaces), and every chunk's token ids are cached for later batches.
The result is the exact token sequence of DataTrove's tokenizer (checked
against the ``datatrove`` package in the tests), as arrays of token ids.

Per distinct token a few properties are kept (length, letters, DataTrove's
punctuation set, spaCy's sentence-boundary characters), so the filters only
gather arrays. Needs ``spacy`` (no model download: the blank tokenizer ships
with the package).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.stages.text_units import FINEWEB_TERMINAL_PUNCTUATION, Grouped

# DataTrove's PUNCTUATION_SET (datatrove.utils.text): ASCII and CJK punctuation, C0/C1 controls, and the
# sentence terminators of TERMINAL_PUNCTUATION. A token is a word when it has a character outside it.
DATATROVE_PUNCTUATION = ("!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
                         + "".join(map(chr, (*range(0, 9), *range(11, 13), *range(13, 32), *range(127, 160)))))
# Chunk shapes (RE2, one group per token) that spaCy's English tokenizer splits exactly by their groups,
# unless the chunk or a group is one of its special cases: letters; letters and one of , ; : ! ?; ASCII
# letters ending in a lower-case one, and a full stop; an opening quote or parenthesis and ASCII letters (and
# one of , ; : ! ?); ASCII letters and a closing parenthesis; letters and 's; two ASCII words joined by a
# hyphen; digits (and colons, as in times); digits and one of , ; :. Checked against spaCy in the tests.
PLAIN_SHAPES = (
    r"^(?P<a>\pL+)$",
    r"^(?P<a>\pL+)(?P<b>[,;:!?])$",
    r"^(?P<a>[A-Za-z]*[a-z])(?P<b>\.)$",
    r'^(?P<a>["(])(?P<b>[A-Za-z]+)$',
    r'^(?P<a>["(])(?P<b>[A-Za-z]+)(?P<c>[,;:!?])$',
    r"^(?P<a>[A-Za-z]+)(?P<b>\))$",
    r"^(?P<a>\pL+)(?P<b>'s)$",
    r"^(?P<a>[A-Za-z]+)(?P<b>-)(?P<c>[A-Za-z]+)$",
    r"^(?P<a>[0-9]+(?::[0-9]+)*)$",
    r"^(?P<a>[0-9]+)(?P<b>[,;:])$",
)
# Chunks cached per process before the cache starts again (a bound on memory for long runs).
_MAX_CACHED_CHUNKS = 2_000_000


def spacy_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("spacy") is not None


@lru_cache(maxsize=1)
def _tokenizer():
    """spaCy's blank English pipeline, used only to split text: its lexical attributes (shape, number-likeness
    ...), which spaCy computes for every new token and which splitting never reads, are switched off."""
    import spacy

    nlp = spacy.blank("en")
    nlp.vocab.lex_attr_getters = {}
    return nlp


@dataclass
class Vocabulary:
    """Distinct tokens seen in this process, with the properties the filters read, indexed by token id."""

    ids: dict[str, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    props: dict[str, list] = field(default_factory=lambda: {name: [] for name in _PROPERTIES})
    chunks: dict[str, np.ndarray] = field(default_factory=dict)

    def token_id(self, text: str) -> int:
        found = self.ids.get(text)
        if found is None:
            found = self.ids[text] = len(self.texts)
            self.texts.append(text)
        return found

    def array(self, name: str) -> np.ndarray:
        """A property of every token seen so far (measured once per token, when first asked for)."""
        values = self.props[name]
        if len(values) < len(self.texts):
            measure = _PROPERTIES[name]
            values.extend(measure(text) for text in self.texts[len(values):])
        return np.asarray(values)

    def add_chunks(self, chunks: list[str]) -> None:
        """Cache the token ids of new chunks: chunks of a few plain shapes (:data:`PLAIN_SHAPES`) are split
        by their groups, the others are tokenized in one spaCy call."""
        special, changed = _special_cases()
        rest = pa.array(chunks, pa.string())
        for shape in PLAIN_SHAPES:
            matched = pc.extract_regex(rest, shape)
            hit = np.asarray(matched.is_valid(), dtype=bool)
            if not hit.any():
                continue
            groups = matched.filter(pa.array(hit)).flatten()
            missed = []
            for chunk, *parts in zip(rest.filter(pa.array(hit)).to_pylist(), *(g.to_pylist() for g in groups)):
                if chunk in special or any(part in changed for part in parts):
                    missed.append(chunk)
                else:
                    self.chunks[chunk] = np.array([self.token_id(part) for part in parts], dtype=np.int64)
            rest = pa.concat_arrays([rest.filter(pa.array(~hit)), pa.array(missed, pa.string())])
        if len(rest):
            self._tokenize(rest.to_pylist())

    def _tokenize(self, chunks: list[str]) -> None:
        joined = " ".join(chunks)
        ends = np.cumsum([len(chunk) + 1 for chunk in chunks])
        spans = _tokenizer().tokenizer(joined).to_array(["IDX", "LENGTH"]).reshape(-1, 2).tolist()
        owners = np.searchsorted(ends, np.array([start for start, _ in spans], dtype=np.int64), side="right")
        grouped: list[list[int]] = [[] for _ in chunks]
        for owner, (start, size) in zip(owners.tolist(), spans):
            text = joined[start:start + size].strip()  # DataTrove's strip_strings: whitespace tokens go
            if text:
                grouped[owner].append(self.token_id(text))
        for chunk, ids in zip(chunks, grouped):
            self.chunks[chunk] = np.asarray(ids, dtype=np.int64)


@lru_cache(maxsize=1)
def _special_cases() -> tuple[frozenset[str], frozenset[str]]:
    """The tokenizer's special cases, and those of them that do not stay one token as they are (a chunk in
    the first may still be split as a whole; a piece in the second would be split further)."""
    from spacy.attrs import ORTH

    rules = _tokenizer().tokenizer.rules
    changed = {key for key, tokens in rules.items() if [token.get(ORTH) for token in tokens] != [key]}
    return frozenset(rules), frozenset(changed)


@lru_cache(maxsize=1)
def _sentence_chars() -> frozenset[str]:
    from spacy.pipeline import Sentencizer

    return frozenset(Sentencizer.default_punct_chars)


def _is_punct(text: str) -> bool:
    """spaCy's ``is_punct`` lexeme attribute (``spacy.lang.lex_attrs.is_punct``): only punctuation."""
    return all(unicodedata.category(ch).startswith("P") for ch in text)


_PUNCTUATION_SET = frozenset(DATATROVE_PUNCTUATION) | frozenset(FINEWEB_TERMINAL_PUNCTUATION)
_PROPERTIES = {
    "length": len,
    "is_word": lambda t: any(ch not in _PUNCTUATION_SET for ch in t),
    "has_letter": lambda t: any(ch.isalpha() for ch in t),
    "sentence_end": lambda t: t in _sentence_chars(),
    "is_punct": _is_punct,
}
_VOCABULARY = Vocabulary()


@dataclass
class Tokens(Grouped):
    """spaCy tokens of every document of a batch, in order: ``ids[i]`` belongs to document ``doc[i]``."""

    ids: np.ndarray

    def prop(self, name: str) -> np.ndarray:
        """A token property (``length``, ``is_word``, ``has_letter``, ``sentence_end``, ``is_punct``) per token."""
        return _VOCABULARY.array(name)[self.ids] if len(self.ids) else np.zeros(0, dtype=np.int64)

    def is_any(self, words: tuple[str, ...]) -> np.ndarray:
        """Whether each token is one of ``words`` (case-sensitive)."""
        known = [_VOCABULARY.ids[word] for word in words if word in _VOCABULARY.ids]
        return np.isin(self.ids, np.asarray(known, dtype=np.int64))

    def texts(self) -> pa.Array:
        return pc.take(pa.array(_VOCABULARY.texts, pa.string()), pa.array(self.ids, pa.int64()))


def spacy_words(text: pa.Array) -> Tokens:
    """DataTrove's English words of every document (see the module docstring)."""
    lists = pc.utf8_split_whitespace(text)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    chunk_doc = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    encoded = pc.dictionary_encode(pc.list_flatten(lists))
    distinct = encoded.dictionary.to_pylist()
    cache = _VOCABULARY.chunks
    new = [chunk for chunk in distinct if chunk not in cache]
    if len(cache) + len(new) > _MAX_CACHED_CHUNKS:  # start again: a bound on memory for long runs
        cache.clear()
        new = distinct
    if new:
        _VOCABULARY.add_chunks(new)
    per_chunk = [cache[chunk] for chunk in distinct]
    sizes = np.array([len(ids) for ids in per_chunk], dtype=np.int64)
    flat = np.concatenate(per_chunk) if per_chunk else np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
    occurrence = np.asarray(encoded.indices, dtype=np.int64)
    counts = sizes[occurrence]
    # token k of occurrence j sits at starts[chunk of j] + k in ``flat``
    first = np.repeat(starts[occurrence] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    index = first + np.arange(int(counts.sum()))
    return Tokens(doc=np.repeat(chunk_doc, counts), n_docs=len(text), ids=flat[index])


def sentence_counts(tokens: Tokens) -> np.ndarray:
    """Sentences per document as spaCy's ``sentencizer`` splits them (DataTrove's ``split_into_sentences``).

    A sentence starts at a document's first token and at every token that is
    neither punctuation nor a sentence-end character when the last such token
    or sentence-end character before it (in the same document) was a
    sentence-end character. Documents without tokens have none.
    """
    end = tokens.prop("sentence_end").astype(bool)
    regular = ~end & ~tokens.prop("is_punct").astype(bool)
    marks = np.flatnonzero(end | regular)
    doc, is_end = tokens.doc[marks], end[marks]
    starts = regular[marks][1:] & is_end[:-1] & (doc[1:] == doc[:-1])
    return (tokens.count() > 0).astype(np.int64) + np.bincount(doc[1:][starts], minlength=tokens.n_docs)


def sentencizer_count(text: str) -> int:
    """Sentences in one text by spaCy's own sentencizer (the pipeline DataTrove runs)."""
    nlp = _sentencizer()
    with nlp.memory_zone():
        return len(list(nlp(text).sents))


@lru_cache(maxsize=1)
def _sentencizer():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def clear_cache() -> None:
    """Forget every cached chunk and token (the next batch tokenizes all its chunks again)."""
    global _VOCABULARY
    _VOCABULARY = Vocabulary()
