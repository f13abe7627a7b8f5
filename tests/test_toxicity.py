"""Sentence-level (Dolma) and document-level toxicity, and the shipped quality and toxicity models."""

from __future__ import annotations

import random

import numpy as np
import pytest

from curate.classify.sentences import sentence_spans
from curate.stage import DROP_REASON, drop_mask
from curate.stages.quality import Quality
from curate.stages.toxicity import REMOVED, Toxicity, ToxicityPercentile
from tests.classify_models import BAD, GOOD, sentence, shared_model
from tests.conftest import documents


@pytest.fixture(scope="module")
def model() -> str:
    """The tiny hq/lq model: BAD-word texts are ``lq``, the label scored as toxic here."""
    return shared_model()


def _sentences(words, count, seed):
    rng = random.Random(seed)
    return [sentence(rng, words).capitalize() + "." for _ in range(count)]


def test_sentence_spans_rejoin_to_the_text():
    for text in ["One. Two?  Three!\nFour\n\nFive...", "", "   ", "日本語です。次の文。", "no stop"]:
        assert "".join(sentence_spans(text)) == text
    assert sentence_spans("A b. C d.") == ["A b. ", "C d."]


def test_toxic_sentences_are_removed_and_counted(model):
    good, bad = _sentences(GOOD, 3, 1), _sentences(BAD, 2, 2)
    mixed = " ".join([good[0], bad[0], good[1], bad[1], good[2]])
    all_bad = " ".join(_sentences(BAD, 3, 3))
    table = documents([mixed, " ".join(good), all_bad, "", "   "])
    out, stats = Toxicity(model=model, label="lq").process_batch(table)
    texts = out.column("text").to_pylist()
    assert texts[0] == " ".join([good[0], good[1], good[2]])
    assert texts[1] == " ".join(good)
    assert out.column(REMOVED).to_pylist() == [2, 0, 3, 0, 0]
    # a document emptied by the removal is dropped, with its original text
    assert drop_mask(out).tolist() == [False, False, True, False, False]
    assert out.column(DROP_REASON)[2].as_py() == "toxic_all_sentences" and texts[2] == all_bad
    scores = out.column("toxicity_score").to_numpy()
    assert scores[0] > 0.4 > scores[1] and np.isfinite(scores).all()
    assert stats["sentences_removed"] == 5 and stats["documents_changed"] == 2 and stats["documents_emptied"] == 1
    assert Toxicity.summarize(stats)["sentences_removed_share"] == pytest.approx(5 / stats["sentences"], abs=1e-6)


def test_annotate_keeps_texts_and_counts(model):
    mixed = " ".join(_sentences(GOOD, 2, 4) + _sentences(BAD, 1, 5))
    table = documents([mixed, " ".join(_sentences(BAD, 2, 6))])
    out, _ = Toxicity(model=model, label="lq", mode="annotate").process_batch(table)
    assert out.column("text").to_pylist() == table.column("text").to_pylist()
    assert out.column(REMOVED).to_pylist() == [1, 2]
    assert not drop_mask(out).any()
    assert out.column("toxicity_reason").to_pylist() == [None, "toxic_all_sentences"]


def test_document_level_and_inverse_filter(model):
    table = documents([" ".join(_sentences(GOOD, 2, 7)), " ".join(_sentences(BAD, 2, 8))])
    out, _ = Toxicity(model=model, label="lq", level="document").process_batch(table)
    assert drop_mask(out).tolist() == [False, True] and out.column(DROP_REASON)[1].as_py() == "toxic"
    assert REMOVED not in out.column_names
    inverse, _ = Toxicity(model=model, label="lq", level="document", keep="above").process_batch(table)
    assert drop_mask(inverse).tolist() == [True, False]
    assert isinstance(Toxicity(model=model, label="lq", level="document", percentile=90), ToxicityPercentile)
    with pytest.raises(ValueError, match="keep: below"):
        Toxicity(model=model, label="lq", keep="above")


def test_shipped_models_score_bad_input():
    texts = ["The committee approved the annual budget after a short debate.", "", "   ",
             "\x00\x01\xfe binary \ufffd\ufffd", "これは日本語の文です。", "Привет, мир!",
             "FREE!!! click here to WIN $$$ now!!!"]
    quality, _ = Quality().process_batch(documents(texts))
    toxicity, _ = Toxicity().process_batch(documents(texts))
    for column, table in (("quality_score", quality), ("toxicity_score", toxicity)):
        values = table.column(column).to_numpy()
        assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    assert quality.column("quality_score")[0].as_py() > quality.column("quality_score")[6].as_py()
