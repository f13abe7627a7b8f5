"""``definition: datatrove`` against the ``datatrove`` package itself (0.10.1, with spaCy)."""

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_top_duplicate, get_n_grams
from datatrove.utils.text import split_into_sentences, split_into_words

from benchmarks._corpora import sample_table
from benchmarks._datatrove import FILTERS, curate_keeps, datatrove_keeps
from curate.stages.gopher_repetition import DUP_NGRAMS, TOP_NGRAMS, GopherRepetition
from curate.stages.spacy_words import gapped_sentence_counts, sentence_counts, spacy_words
from tests.conftest import documents

TRICKY = ["Don't stop, it's fine: the U.S. (and e.g. Mr. Smith) paid $9.3bn -- or 10km... \"Yes!\" she said.",
          "cannot Cannot dont gonna Im I'm we'll end. end, (end) \"end\" END. McD. d.\" St.) obj): ok?!",
          "well-known state-of-the-art 3.14 1,000 50% #tag @user http://example.com/a?b=c a/b <b>x</b>",
          "Ελληνικά. Русский, язык! 中文测试。 日本語のテキスト。 عربي؟ ქართული. emoji 🖕 ok",
          "Rosneft's it's well-known co-op 12:30:01 1999, 42; A. X. (a) a. kulan-a. I'm-fine 3-4 e-mail's",
          "tabs\there  two  spaces\u00a0nbsp\u2028line\u3000ideo and trailing ... … ..", ""]


def test_words_are_datatrove_words():
    tokens = spacy_words(pa.array(TRICKY))
    got = [[] for _ in TRICKY]
    for doc, word in zip(tokens.doc, tokens.texts().to_pylist()):
        got[doc].append(word)
    assert got == [split_into_words(text) for text in TRICKY]


def test_sentences_are_spacy_sentencizer_sentences():
    lines = ["One. Two! Three? Four", "Dr. Who said \"hi.\" Then left.", "No end", "a... b. (c.) d", "x!! y"]
    assert sentence_counts(spacy_words(pa.array(lines))).tolist() == [len(split_into_sentences(t)) for t in lines]


def test_repetition_ngram_values_are_datatrove_values():
    rng = random.Random(5)
    vocab = ["a", "bb", "ccc", "the", "cat", ".", ","]
    texts = [" ".join(rng.choice(vocab[: rng.randint(2, 7)]) for _ in range(rng.randint(1, 60))) for _ in range(80)]
    out, _ = GopherRepetition(mode="annotate", definition="datatrove").process_batch(documents(texts))
    for row, text in enumerate(texts):
        words = split_into_words(text)
        for n in TOP_NGRAMS:
            grams = get_n_grams(words, n)
            expected = find_top_duplicate(grams) / len(text) if grams else 0.0
            assert out.column(f"gopher_repetition_top_{n}gram_ratio")[row].as_py() == pytest.approx(expected), text
        for n in DUP_NGRAMS:
            expected = find_all_duplicate(words, n) / len(text)
            assert out.column(f"gopher_repetition_dup_{n}gram_ratio")[row].as_py() == pytest.approx(expected), text


@pytest.mark.slow
def test_decisions_agree_with_datatrove_on_the_sample():
    """At least 99.5% of the sample's documents get DataTrove's keep/drop decision from every filter."""
    table = sample_table()
    texts = [text or "" for text in table.column("text").to_pylist()]
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts))
    reference = datatrove_keeps(FILTERS, texts)
    for name in FILTERS:
        agreement = float(np.mean(curate_keeps(name, table, "datatrove") == reference[name]))
        assert agreement >= 0.995, (name, agreement)
        assert 0 < reference[name].sum() < len(texts)  # both decisions occur: the comparison can fail


def test_words_stay_the_same_when_the_chunk_cache_starts_again(monkeypatch):
    import curate.stages.spacy_words as module

    first = spacy_words(pa.array(TRICKY)).texts().to_pylist()
    monkeypatch.setattr(module, "_MAX_CACHED_CHUNKS", 5)
    assert spacy_words(pa.array(TRICKY[::-1])).texts().to_pylist() == \
        [w for text in TRICKY[::-1] for w in split_into_words(text)]
    assert spacy_words(pa.array(TRICKY)).texts().to_pylist() == first


def test_chunks_cut_by_their_skeletons_are_cut_as_spacy_cuts_them():
    """Random chunks of letters, digits, punctuation, units, special-case fragments and other scripts: the
    tokens equal spaCy's on each chunk alone, whether the chunk is cut by its skeleton or given to spaCy."""
    from curate.stages import spacy_words as module

    pieces = ["a", "the", "Smith", "US", "I", "e", "km", "m", "s", "é", "Ελ", "язык", "中文", "ಠ", "7", "42", ".",
              ",", ";", ":", "!", "?", "'", "’", '"', "“", "(", ")", "[", "]", "{", "-", "--", "—", "/", "=", "<",
              ">", "$", "£", "%", "+", "*", "^", "&", "#", "@", "_", "...", "…", "°", "²", "\u0301", "🖕", "can",
              "not", "don", "t", "Mr", "e.g", "co", "http", "www", "com", "US$", ":)", "<3", "=3", "n't", "'s"]
    rng = random.Random(7)
    chunks = sorted({"".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(3000)})
    module.clear_cache()
    tokens = spacy_words(pa.array(chunks))
    got = [[] for _ in chunks]
    for doc, word in zip(tokens.doc.tolist(), tokens.texts().to_pylist()):
        got[doc].append(word)
    nlp = module._tokenizer()
    assert got == [[t.text for t in nlp.tokenizer(chunk)] for chunk in chunks]
    whole = pc.match_substring_regex(pa.array(chunks), module._letters_matter() + "|" + module._special_pattern())
    assert 100 < pc.sum(whole).as_py() < len(chunks) - 100  # both ways of cutting were taken
    assert len(module._VOCABULARY.skeletons) > 100


def test_skeletons_keep_what_the_rules_read():
    from curate.stages.spacy_words import chunk_skeletons

    skeletons = chunk_skeletons(["Smith.", "USA.", "a", "1999,", "naïve-ness", "язык"])
    assert skeletons.values[:4] == ["qqq.", "qZZ.", "q", "7,"]
    assert skeletons.values[4].count("-") == 1 and "ï" not in skeletons.values[4]
    assert len(skeletons.values[5]) == 3


def test_sentences_of_lines_with_wide_gaps_are_spacy_sentencizer_sentences():
    lines = ["One.  Two", "a.\tb", " Lead. x", "end.  ", "x  y", "Q? \t R! s", "no gap. here", "\t", "(a.)   b"]
    assert gapped_sentence_counts(lines).tolist() == [len(split_into_sentences(line)) for line in lines]
