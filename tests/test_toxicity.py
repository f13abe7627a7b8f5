"""Sentence-level (Dolma) and document-level toxicity, and the shipped quality and toxicity models."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from curate.classify.fasttext_model import load_model, model_labels, predict_scores
from curate.classify.sentences import sentence_spans, split_batch
from curate.io.reader import ReaderConfig, read_file, resolve_inputs
from curate.models import shipped
from curate.stage import DROP_REASON
from curate.stages.percentile_cut import PercentileCut
from curate.stages.profanity import Profanity
from curate.stages.quality import Quality
from curate.stages.toxicity import REMOVED, Toxicity
from curate.tables import drop_mask
from tests.classify_models import BAD, GOOD, sentence, shared_model
from tests.conftest import SAMPLE, documents


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


def test_batch_split_is_the_per_document_split():
    texts = ["One. Two?  Three!\nFour\n\nFive...", "", None, "   ", "日本語です。次の文。", "no stop",
             "a\u2003b. \u00a0c!\x1cd.\u3000\u3000e\u2026 f", "mark\uffff inside. Yes.", "End.\n"]
    sentences, rows = split_batch(pa.array(texts))
    assert list(zip(rows.tolist(), sentences.to_pylist())) == [
        (i, span) for i, text in enumerate(texts) if text for span in sentence_spans(text)]


def test_batch_whitespace_is_python_whitespace():
    """The RE2 pattern spells out Python's \\s: every character it treats as whitespace, and only those."""
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    others = [chr(c) for c in range(0x3001) if not chr(c).isspace() and chr(c) not in "\uffff"]
    texts = [f"A.{c}b" for c in spaces + others]
    sentences, rows = split_batch(pa.array(texts))
    assert np.bincount(rows).tolist() == [2] * len(spaces) + [1] * len(others)


def test_toxic_sentences_are_removed_and_counted(model):
    good, bad = _sentences(GOOD, 3, 1), _sentences(BAD, 2, 2)
    mixed = " ".join([good[0], bad[0], good[1], bad[1], good[2]])
    all_bad = " ".join(_sentences(BAD, 3, 3))
    table = documents([mixed, " ".join(good), all_bad, "", "   "])
    out, stats = Toxicity(model=model, label="lq", level="sentence").process_batch(table)
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


def test_profanity_is_a_score_of_its_own_beside_toxicity(model):
    good, bad = _sentences(GOOD, 2, 1), _sentences(BAD, 2, 2)
    table = documents([" ".join([good[0], bad[0], good[1]]), " ".join(bad)])
    out, _ = Profanity(model=model, label="lq").process_batch(table)
    out, _ = Toxicity(model=model, label="lq", level="sentence", mode="annotate").process_batch(out)
    assert out.column("profane_sentences_removed").to_pylist() == [1, 2]
    assert out.column(DROP_REASON).to_pylist()[1] == "profane_all_sentences"
    assert out.column("profanity_score")[0].as_py() > 0.4 and "toxicity_score" in out.column_names
    assert Profanity().params.model_path().endswith(".ftz")


def test_annotate_keeps_texts_and_counts(model):
    mixed = " ".join(_sentences(GOOD, 2, 4) + _sentences(BAD, 1, 5))
    table = documents([mixed, " ".join(_sentences(BAD, 2, 6))])
    out, _ = Toxicity(model=model, label="lq", level="sentence", mode="annotate").process_batch(table)
    assert out.column("text").to_pylist() == table.column("text").to_pylist()
    assert out.column(REMOVED).to_pylist() == [1, 2]
    assert not drop_mask(out).any()
    assert out.column("toxicity_reason").to_pylist() == [None, "toxic_all_sentences"]


def test_languages_leaves_other_languages_untouched(model):
    all_bad = " ".join(_sentences(BAD, 3, 9))
    table = documents([all_bad, all_bad]).append_column("language", pa.array(["en", "ja"], pa.string()))
    out, stats = Toxicity(model=model, label="lq", level="sentence", languages=["en"]).process_batch(table)
    assert out.column("text").to_pylist() == [all_bad, all_bad]
    assert drop_mask(out).tolist() == [True, False] and out.column(REMOVED).to_pylist() == [3, 0]
    assert out.column("toxicity_score")[1].as_py() is None
    assert stats["scored"] == 1 and stats["skipped_language"] == 1 and stats["sentences"] == 3
    document, _ = Toxicity(model=model, label="lq", level="document", languages=["en"]).process_batch(table)
    assert drop_mask(document).tolist() == [True, False]


def test_document_level_and_inverse_filter(model):
    table = documents([" ".join(_sentences(GOOD, 2, 7)), " ".join(_sentences(BAD, 2, 8))])
    out, _ = Toxicity(model=model, label="lq", level="document").process_batch(table)
    assert drop_mask(out).tolist() == [False, True] and out.column(DROP_REASON)[1].as_py() == "toxic"
    assert REMOVED not in out.column_names
    inverse, _ = Toxicity(model=model, label="lq", level="document", keep="above").process_batch(table)
    assert drop_mask(inverse).tolist() == [True, False]
    score, cut = Toxicity(model=model, label="lq", level="document", percentile=90).decompose()
    assert isinstance(score, Toxicity) and isinstance(cut, PercentileCut) and cut.name == "toxicity"
    with pytest.raises(ValueError, match="keep: below"):
        Toxicity(model=model, label="lq", level="sentence", keep="above")


def test_shipped_models_score_bad_input():
    texts = ["The committee approved the annual budget after a short debate.", "", "   ",
             "\x00\x01\xfe binary \ufffd\ufffd", "これは日本語の文です。", "Привет, мир!",
             "FREE!!! click here to WIN $$$ now!!!"]
    """The shipped fastText models (the heads on embeddings are checked in test_embed.py)."""
    quality, _ = Quality(model=shipped("quality.ftz")).process_batch(documents(texts))
    profanity, _ = Profanity().process_batch(documents(texts))
    for column, table in (("quality_score", quality), ("profanity_score", profanity)):
        values = table.column(column).to_numpy()
        assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all()
    assert quality.column("quality_score")[0].as_py() > quality.column("quality_score")[6].as_py()


def sentence_toxicity(**params) -> Toxicity:
    """Dolma's sentence-level removal with the shipped tweet-trained fastText model."""
    return Toxicity(model=shipped("toxicity.ftz"), label="toxic", level="sentence", **params)


@pytest.fixture(scope="module")
def sample_texts() -> list[str]:
    """The first 30 documents of every source of data/sample (prose, docs, e-mail, UDHR, fortunes)."""
    texts: list[str] = []
    for index, file in enumerate(resolve_inputs(str(SAMPLE))):
        batch = next(iter(read_file(index, file, ReaderConfig())))
        texts += batch.column("text").to_pylist()[:30]
    return texts


def _per_document(texts: list[str], threshold: float) -> tuple[list[str], list[float], list[int], list[bool]]:
    """The straightforward form of the sentence-level stage: split, score and rejoin each document on its own."""
    model = load_model(sentence_toxicity().params.model_path())
    column = model_labels(model).index("toxic")
    out, scores, removed, emptied = [], [], [], []
    for text in texts:
        spans = sentence_spans(text) if text else []
        probabilities = predict_scores(model, spans or [""])[:, column]
        bad = probabilities >= threshold if spans else np.zeros(0, bool)
        kept = "".join(span for span, toxic in zip(spans, bad) if not toxic).strip()
        gone = bool(spans) and (bad.all() or (bad.any() and not kept))
        out.append(kept if bad.any() and not gone else text)
        scores.append(float(probabilities.max()))
        removed.append(int(bad.sum()))
        emptied.append(gone)
    return out, scores, removed, emptied


@pytest.mark.parametrize("threshold", [0.4, 0.05])
def test_batch_stage_equals_the_per_document_form_on_sample_text(sample_texts, threshold):
    texts = sample_texts + ["", "   ", "You are a fucking idiot. \n\n Fine.", "Shut up, bitch.\t\n",
                            "Fine.\n  \nYou are a fucking idiot.",
                            "  \nYou are a fucking idiot."]  # only whitespace left: emptied
    out, _ = sentence_toxicity(threshold=threshold).process_batch(documents(texts))
    expected, scores, removed, emptied = _per_document(texts, threshold)
    assert sum(removed) > 0 and any(t != e for t, e in zip(texts, expected))
    assert out.column("text").to_pylist() == expected
    assert out.column("toxicity_score").to_numpy().tolist() == scores
    assert out.column(REMOVED).to_pylist() == removed
    assert drop_mask(out).tolist() == emptied and any(emptied)


def test_sentences_are_scored_as_score_scores_texts(sample_texts):
    """Scoring the sentences of a batch at once (distinct ones once, cut to max_chars) matches ``score``."""
    sentences, _ = split_batch(pa.array(sample_texts[:40]))
    for stage in (sentence_toxicity(), sentence_toxicity(max_chars=12)):
        expected = stage.score(sentences.to_pylist())["toxicity_score"]
        assert stage._score_sentences(sentences).tolist() == expected.tolist()
