"""DataTrove's English words: the tokens of spaCy's blank English tokenizer, for a whole batch at once.

DataTrove's rule filters (``split_into_words``) run ``spacy.blank("en")`` over
each text and keep every token that is not whitespace, punctuation included
(``don't`` is ``do`` + ``n't``, ``end.`` is ``end`` + ``.``). spaCy's tokenizer
treats every whitespace-separated chunk on its own, so the same tokens come
from tokenizing each *distinct* chunk once: a batch is split at whitespace and
the token ids of its distinct chunks are cached for later batches.

New chunks are mostly tokenized without spaCy, by their *skeleton*
(:func:`chunk_skeletons`): every run of letters (and combining marks) becomes
the class of its first letter and of its last two (``Smith.`` -> ``qqq.``,
``USA.`` -> ``qZZ.``), every run of ASCII digits one ``7``, other characters
stay. spaCy's English rules only read the class of single characters around
punctuation (a letter, a lower- or upper-case letter, a digit) and never cut
inside a run of letters or digits, so a chunk is cut where spaCy cuts its
skeleton, and the few thousand distinct skeletons of a corpus are all spaCy
sees. Chunks in which the letters themselves matter go to spaCy whole: a
special case of the tokenizer in the chunk or its skeleton (``don't``,
``Mr.``, ``:)``), a URL or ``e.g`` (a ``.`` before a letter), an IP address,
a unit after a number (``5km``), ``'s``, ``US$``, ``°F``. The result is the
exact token sequence of DataTrove's tokenizer (checked against spaCy on
random chunks and against the ``datatrove`` package in the tests), as arrays
of token ids.

Per distinct token a few properties are kept (length, letters, DataTrove's
punctuation set, spaCy's sentence-boundary characters), so the filters only
gather arrays. Needs ``spacy`` (no model download: the blank tokenizer ships
with the package).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
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
# Chunks whose letters or digit values matter to spaCy's English rules (RE2), besides units after numbers
# (:func:`_letters_matter`): URLs and "e.g" (a "." before a letter), IP addresses, "'s", "US$", "°F.", and
# whitespace spaCy splits at.
LETTERS_MATTER = (r"\.[\pL\pM]|[0-9]\.[0-9]+\.[0-9]+\.[0-9]|['’][sS](?:[^\pL\pM]|$)|[A-Za-z]\$|°"
                  r"|[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
                  r"\x{205f}\x{3000}]")
# Between chunks tokenized together (a private-use character, in no special case of the tokenizer).
SEPARATOR = "\ue000"
# Skeleton characters: ASCII lower-case letters, upper-case letters and digits.
LOWER, UPPER, DIGIT = ord("q"), ord("Z"), ord("7")
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


@lru_cache(maxsize=1)
def _special_pattern() -> str:
    """RE2: a special case of the tokenizer (two characters or more) in a chunk, where spaCy could cut it out.

    spaCy never cuts inside a run of letters or of digits, so a special case
    that starts (ends) with a letter or digit counts only where the run
    starts (ends): ``Im`` is found in ``Im,`` and not in ``Time``, ``e.``
    in ``(e.`` and not in ``table.``, ``=3`` in ``=3)`` and not in ``x=30``.
    """
    def edge(ch: str) -> str:
        return r"\pL" if ch.isalpha() else "0-9" if ch in "0123456789" else ""

    groups: dict[tuple[str, str], list[str]] = {}
    for key in sorted(key for key in _tokenizer().tokenizer.rules if len(key) >= 2):
        groups.setdefault((edge(key[0]), edge(key[-1])), []).append(re.escape(key))
    return "|".join((f"(?:^|[^{before}])" if before else "") + "(?:" + "|".join(keys) + ")"
                    + (f"(?:[^{after}]|$)" if after else "") for (before, after), keys in groups.items())


@lru_cache(maxsize=1)
def _letters_matter() -> str:
    """RE2: :data:`LETTERS_MATTER`, or a unit of spaCy's (``km``, ``m``, ``kg``) right after a digit."""
    from spacy.lang.char_classes import UNITS

    units = [unit for unit in UNITS.split("|") if any(ch.isalpha() for ch in unit)]
    return LETTERS_MATTER + r"|[0-9](?:" + "|".join(map(re.escape, units)) + r")(?:[^\pL\pM]|$)"


class _Growing:
    """An int64 array that grows by appending (capacity doubles)."""

    def __init__(self) -> None:
        self.data = np.zeros(1024, dtype=np.int64)
        self.size = 0

    def extend(self, values: np.ndarray) -> int:
        """Append ``values``; returns the position of the first."""
        start, end = self.size, self.size + len(values)
        if end > len(self.data):
            grown = np.zeros(max(end, 2 * len(self.data)), dtype=np.int64)
            grown[:start] = self.data[:start]
            self.data = grown
        self.data[start:end] = values
        self.size = end
        return start

    def view(self) -> np.ndarray:
        return self.data[:self.size]


@lru_cache(maxsize=1)
def _char_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per code point of the Basic Multilingual Plane: its kind (0: stays as it is, 1: a letter or mark, part
    of a run, 2: an ASCII digit), and the skeleton character that stands for it at the end of a run (one
    with the same membership in spaCy's ALPHA, ALPHA_LOWER and ALPHA_UPPER) or at the start (same ALPHA
    membership only). Characters above it stay as they are."""
    from spacy.lang.char_classes import ALPHA, ALPHA_LOWER, ALPHA_UPPER

    every = "".join(map(chr, range(0x10000)))
    signature = np.zeros(0x10000, dtype=np.int64)
    for bit, chars in ((1, ALPHA_LOWER), (2, ALPHA_UPPER), (4, ALPHA)):
        signature[[m.start() for m in re.finditer(f"[{chars}]", every)]] |= bit
    member = np.array([ch.isalpha() or unicodedata.category(ch).startswith("M") for ch in every], dtype=bool)
    kind = np.where(member, 1, 0)
    kind[ord("0"):ord("9") + 1] = 2
    full = np.arange(0x10000, dtype=np.int64)
    start = np.arange(0x10000, dtype=np.int64)
    for code in range(8):
        for table, same in ((full, signature == code), (start, (signature & 4) == (code & 4))):
            chosen = np.flatnonzero(member & same)
            ascii_first = [c for c in (LOWER, UPPER) if member[c] and same[c]]
            if len(chosen):
                table[member & (signature == code)] = ascii_first[0] if ascii_first else chosen[0]
    return kind.astype(np.uint8), full, start


@dataclass
class Skeletons:
    """The skeleton of every chunk (see the module docstring) and, for each skeleton character, the character
    of the chunks (joined) where the piece it stands for starts (a run of letters or digits, or itself)."""

    values: list[str]
    offsets: np.ndarray
    origin: np.ndarray


def chunk_skeletons(chunks: list[str]) -> Skeletons:
    """Skeletons of ``chunks``, built on their code points in numpy."""
    kind_of, full, start = _char_table()
    points = np.frombuffer("".join(chunks).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(chunk) for chunk in chunks])]).astype(np.int64)
    bmp = points < 0x10000
    kind = np.where(bmp, kind_of[np.minimum(points, 0xFFFF)], 0)
    new_run = np.ones(len(points) + 1, dtype=bool)
    new_run[1:-1] = (kind[1:] != kind[:-1]) | (kind[1:] == 0)
    new_run[offsets[:-1]] = True
    first, last = new_run[:-1], new_run[1:]
    second_last = np.zeros(len(points), dtype=bool)
    second_last[:-1] = ~last[:-1] & last[1:]
    member, digit = kind == 1, kind == 2
    keep = (kind == 0) | (member & (first | last | second_last)) | (digit & last)
    positions = np.arange(len(points), dtype=np.int64)
    run_start = np.maximum.accumulate(np.where(first, positions, 0)) if len(points) else positions
    origin = np.where(digit, run_start, positions)[keep]  # a digit run is cut only where it starts
    bmp_points = np.minimum(points, 0xFFFF)
    ends = member & (last | second_last)
    skeleton = np.where(digit, DIGIT, np.where(ends, full[bmp_points], np.where(member, start[bmp_points], points)))
    chunk_of = np.repeat(np.arange(len(chunks)), np.diff(offsets))
    sizes = np.bincount(chunk_of[keep], minlength=len(chunks))
    skeleton_offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    text = skeleton[keep].astype(np.uint32).tobytes().decode("utf-32-le")
    bounds = skeleton_offsets.tolist()
    return Skeletons([text[bounds[i]:bounds[i + 1]] for i in range(len(chunks))], skeleton_offsets, origin)


def _spacy_tokens(chunks: list[str]) -> tuple[np.ndarray, list[str]]:
    """spaCy's tokens of each chunk: the chunk of every token and its text, whitespace tokens left out
    (DataTrove's strip_strings).

    Chunks are tokenized in one call, joined by a private-use character
    between spaces: spaCy applies special cases that hold punctuation
    (``:(``) over neighbouring tokens, across a space too, and the separator
    (in no special case) keeps each chunk's tokens its own. The rare chunks
    that contain the separator are tokenized one by one.
    """
    nlp = _tokenizer()
    owners: list[int] = []
    texts: list[str] = []
    alone = [SEPARATOR in chunk for chunk in chunks]
    together = [i for i in range(len(chunks)) if not alone[i]]
    with nlp.memory_zone():
        if together:
            joined = f" {SEPARATOR} ".join(chunks[i] for i in together)
            ends = np.cumsum([len(chunks[i]) + 3 for i in together])
            spans = nlp.tokenizer(joined).to_array(["IDX", "LENGTH"]).reshape(-1, 2)
            chunk_of = np.asarray(together)[np.searchsorted(ends, spans[:, 0], side="right")].tolist()
            for owner, (start, size) in zip(chunk_of, spans.tolist()):
                text = joined[start:start + size].strip()
                if text != SEPARATOR:
                    owners.append(owner)
                    texts.append(text)
        for i in [i for i in range(len(chunks)) if alone[i]]:
            for token in nlp.tokenizer(chunks[i]):
                owners.append(i)
                texts.append(token.text.strip())
    order = np.argsort(np.asarray(owners, dtype=np.int64), kind="stable")
    kept = [j for j in order.tolist() if texts[j]]
    return np.asarray(owners, dtype=np.int64)[kept], [texts[j] for j in kept]


@dataclass
class Vocabulary:
    """Distinct tokens seen in this process, with the properties the filters read, indexed by token id; the
    token ids of every chunk seen (``chunk_start``/``chunk_size`` into ``chunk_tokens``), and the token starts
    of every skeleton tokenized (byte offsets, ``None`` where spaCy does not cut it into its characters)."""

    ids: dict[str, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    props: dict[str, _Growing] = field(default_factory=lambda: {name: _Growing() for name in _PROPERTIES})
    chunks: dict[str, int] = field(default_factory=dict)
    chunk_start: _Growing = field(default_factory=_Growing)
    chunk_size: _Growing = field(default_factory=_Growing)
    chunk_tokens: _Growing = field(default_factory=_Growing)
    skeletons: dict[str, np.ndarray | None] = field(default_factory=dict)

    def token_ids(self, tokens: pa.Array | list[str]) -> np.ndarray:
        """The id of every token (new tokens get new ids), looking up each distinct text once."""
        encoded = pc.dictionary_encode(pa.array(tokens, pa.string()) if isinstance(tokens, list) else tokens)
        known = np.empty(len(encoded.dictionary), dtype=np.int64)
        for i, text in enumerate(encoded.dictionary.to_pylist()):
            found = self.ids.get(text)
            if found is None:
                found = self.ids[text] = len(self.texts)
                self.texts.append(text)
            known[i] = found
        return known[np.asarray(encoded.indices, dtype=np.int64)]

    def array(self, name: str) -> np.ndarray:
        """A property of every token seen so far (measured once per token, when first asked for)."""
        values = self.props[name]
        if values.size < len(self.texts):
            values.extend(_PROPERTIES[name](pa.array(self.texts[values.size:], pa.string())).astype(np.int64))
        return values.view()

    def forget_chunks(self) -> None:
        self.chunks = {}
        self.chunk_start, self.chunk_size, self.chunk_tokens = _Growing(), _Growing(), _Growing()

    def _store(self, chunks: list[str], sizes: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cache chunks whose tokens are ``ids`` (``sizes[i]`` of them for chunk ``i``); returns their indices."""
        first = self.chunk_tokens.extend(ids)
        starts = first + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if len(sizes) else sizes
        index = self.chunk_start.extend(starts)
        self.chunk_size.extend(sizes)
        indices = np.arange(index, index + len(chunks), dtype=np.int64)
        self.chunks.update(zip(chunks, indices.tolist()))
        return indices

    def add_chunks(self, chunks: list[str]) -> np.ndarray:
        """Tokenize and cache new chunks (by their skeletons, or by spaCy where letters matter); returns
        their indices."""
        array = pa.array(chunks, pa.string())
        skeletons = chunk_skeletons(chunks)
        special = _special_pattern()
        has_special = np.asarray(pc.match_substring_regex(array, special), dtype=bool)
        whole = has_special | np.asarray(pc.match_substring_regex(array, _letters_matter()), dtype=bool)
        skeleton_array = pa.array(skeletons.values, pa.string())
        whole |= np.asarray(pc.match_substring_regex(skeleton_array, special), dtype=bool)
        encoded = pc.dictionary_encode(skeleton_array)
        distinct = encoded.dictionary.to_pylist()
        skeleton_of = np.asarray(encoded.indices, dtype=np.int64)
        used = np.zeros(len(distinct), dtype=bool)
        used[skeleton_of[~whole]] = True
        self._learn_skeletons([s for s, u in zip(distinct, used.tolist()) if u and s not in self.skeletons])
        templates = [self.skeletons[s] if u else None for s, u in zip(distinct, used.tolist())]
        whole |= np.array([t is None for t in templates], dtype=bool)[skeleton_of]
        out = np.empty(len(chunks), dtype=np.int64)
        cut = np.flatnonzero(~whole)
        if len(cut):
            sizes, ids = self._cut(chunks, skeletons, cut, skeleton_of[cut], templates)
            out[cut] = self._store([chunks[i] for i in cut.tolist()], sizes, ids)
        rest = np.flatnonzero(whole)
        if len(rest):
            owners, texts = _spacy_tokens([chunks[i] for i in rest.tolist()])
            out[rest] = self._store([chunks[i] for i in rest.tolist()],
                                    np.bincount(owners, minlength=len(rest)).astype(np.int64), self.token_ids(texts))
        return out

    def _learn_skeletons(self, skeletons: list[str]) -> None:
        """Token starts of new skeletons, from one spaCy call (``None``: spaCy's tokens do not tile it)."""
        if not skeletons:
            return
        joined = " ".join(skeletons)
        nlp = _tokenizer()
        with nlp.memory_zone():
            spans = nlp.tokenizer(joined).to_array(["IDX", "LENGTH"]).reshape(-1, 2).tolist()
        position, token = 0, 0
        for skeleton in skeletons:
            end, starts, expected = position + len(skeleton), [], position
            while token < len(spans) and spans[token][0] < end:
                start, size = spans[token]
                starts.append(start - position)
                expected = start + size if start == expected else -1
                token += 1
            self.skeletons[skeleton] = np.asarray(starts, dtype=np.int64) if expected == end else None
            position = end + 1

    def _cut(self, chunks: list[str], skeletons: Skeletons, rows: np.ndarray, skeleton_of: np.ndarray,
             templates: list) -> tuple[np.ndarray, np.ndarray]:
        """Tokens of the chunks ``rows`` cut where spaCy cuts their skeletons: tokens per chunk and their ids."""
        sizes_of = np.array([0 if t is None else len(t) for t in templates], dtype=np.int64)
        flat = np.concatenate([t for t in templates if t is not None] or [np.zeros(0, dtype=np.int64)])
        first_of = np.concatenate([[0], np.cumsum(sizes_of)[:-1]]).astype(np.int64)
        sizes = sizes_of[skeleton_of]
        total = int(sizes.sum())
        group_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        within = np.arange(total, dtype=np.int64) - np.repeat(group_start, sizes)
        relative = flat[np.repeat(first_of[skeleton_of], sizes) + within]
        token_start = skeletons.origin[np.repeat(skeletons.offsets[rows], sizes) + relative]
        # every character belongs to one piece: the tokens of the cut chunks, and the other chunks whole
        lengths = np.array([len(chunk) for chunk in chunks], dtype=np.int64)
        char_offsets = np.concatenate([[0], np.cumsum(lengths)])
        pieces = np.ones(len(chunks), dtype=np.int64)
        pieces[rows] = sizes
        piece_start = np.repeat(char_offsets[:-1], pieces)
        is_token = np.zeros(len(piece_start), dtype=bool)
        token_slots = np.repeat(np.concatenate([[0], np.cumsum(pieces)[:-1]])[rows], sizes) + within
        piece_start[token_slots] = token_start
        is_token[token_slots] = True
        data = "".join(chunks).encode("utf-8")
        points = np.frombuffer("".join(chunks).encode("utf-32-le"), dtype=np.uint32)
        widths = 1 + (points >= 0x80) + (points >= 0x800) + (points >= 0x10000)
        byte_at = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        bounds = byte_at[np.concatenate([piece_start, [char_offsets[-1]]])]
        strings = pa.Array.from_buffers(pa.string(), len(piece_start),
                                        [None, pa.py_buffer(bounds.astype(np.int32)), pa.py_buffer(data)])
        return sizes, self.token_ids(strings.filter(pa.array(is_token)))


@lru_cache(maxsize=1)
def _sentence_chars() -> frozenset[str]:
    from spacy.pipeline import Sentencizer

    return frozenset(Sentencizer.default_punct_chars)


def _re2_class(chars: str) -> str:
    return "".join(f"\\x{{{ord(ch):x}}}" for ch in sorted(set(chars)))


_ASCII_PUNCT = "".join(ch for ch in map(chr, range(128)) if unicodedata.category(ch).startswith("P"))
_PUNCTUATION_SET = frozenset(DATATROVE_PUNCTUATION) | frozenset(FINEWEB_TERMINAL_PUNCTUATION)


def _ascii_or(texts: pa.Array, ascii_pattern: str, other: Callable[[str], bool]) -> np.ndarray:
    """``ascii_pattern`` (RE2) on ASCII texts, ``other`` (Python) on the others: Python's own character
    classes, exactly, where they could differ from RE2's."""
    out = np.asarray(pc.match_substring_regex(texts, ascii_pattern), dtype=bool)
    wide = np.flatnonzero(~np.asarray(pc.string_is_ascii(texts), dtype=bool))
    out[wide] = [other(text) for text in pc.take(texts, pa.array(wide, pa.int64())).to_pylist()]
    return out


_PROPERTIES = {
    "length": lambda texts: np.asarray(pc.utf8_length(texts), dtype=np.int64),
    "is_word": lambda texts: np.asarray(pc.match_substring_regex(texts, f"[^{_re2_class(_PUNCTUATION_SET)}]"),
                                        dtype=bool),
    "has_letter": lambda texts: _ascii_or(texts, "[A-Za-z]", lambda t: any(ch.isalpha() for ch in t)),
    "sentence_end": lambda texts: np.asarray(pc.is_in(texts, value_set=pa.array(sorted(_sentence_chars()))),
                                             dtype=bool),
    # spaCy's ``is_punct`` lexeme attribute (``spacy.lang.lex_attrs.is_punct``): only punctuation (Unicode P)
    "is_punct": lambda texts: _ascii_or(texts, f"^[{_re2_class(_ASCII_PUNCT)}]+$",
                                        lambda t: all(unicodedata.category(ch).startswith("P") for ch in t)),
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
    vocabulary = _VOCABULARY
    if len(vocabulary.chunks) + len(distinct) > _MAX_CACHED_CHUNKS:  # start again: a bound on memory
        vocabulary.forget_chunks()
    cached = vocabulary.chunks.get
    index = np.array([cached(chunk, -1) for chunk in distinct], dtype=np.int64)
    new = np.flatnonzero(index < 0)
    if len(new):
        index[new] = vocabulary.add_chunks([distinct[i] for i in new.tolist()])
    starts = vocabulary.chunk_start.view()[index]
    sizes = vocabulary.chunk_size.view()[index]
    occurrence = np.asarray(encoded.indices, dtype=np.int64)
    counts = sizes[occurrence]
    # token k of occurrence j sits at starts[chunk of j] + k in the cached token ids
    first = np.repeat(starts[occurrence] - np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64), counts)
    ids = vocabulary.chunk_tokens.view()[first + np.arange(int(counts.sum()))]
    return Tokens(doc=np.repeat(chunk_doc, counts), n_docs=len(text), ids=ids)


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


def gapped_sentence_counts(lines: list[str]) -> np.ndarray:
    """Sentences per line as spaCy's sentencizer splits lines that have whitespace other than single spaces
    between words (stripped lines).

    spaCy makes a token of every such gap (less its first character when
    that is a space), and that token is neither punctuation nor a sentence
    end, so it can start a sentence. The words' tokens come from the cache
    (:func:`spacy_words` on every chunk), the gaps are put between them.
    """
    parts = [re.split(r"(\s+)", line) for line in lines]
    tokens = spacy_words(pa.array([chunk for line in parts for chunk in line[::2]], pa.string()))
    end = tokens.prop("sentence_end").astype(bool)
    regular = ~end & ~tokens.prop("is_punct").astype(bool)
    kinds = np.where(end, 1, np.where(regular, 2, 0)).tolist()
    bounds = np.searchsorted(tokens.doc, np.arange(tokens.n_docs + 1)).tolist()
    counts, chunk = [], 0
    for line in parts:
        sentences, seen_end, any_token = 0, False, False
        for position, part in enumerate(line):
            if position % 2:  # a gap: a regular token unless it is one space after a word
                found = [] if part == " " and line[position - 1] else [2]
            else:
                found = kinds[bounds[chunk]:bounds[chunk + 1]]
                chunk += 1
            for kind in found:
                if not any_token:
                    sentences, any_token = 1, True
                if kind == 1:
                    seen_end = True
                elif kind == 2 and seen_end:
                    sentences, seen_end = sentences + 1, False
        counts.append(sentences)
    return np.asarray(counts, dtype=np.int64)


def clear_cache() -> None:
    """Forget every cached chunk and token (the next batch tokenizes all its chunks again)."""
    global _VOCABULARY
    _VOCABULARY = Vocabulary()
