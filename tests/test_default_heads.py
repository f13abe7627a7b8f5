"""The shipped embedding heads (quality_minilm.npz, hate_minilm.npz): they load, and score texts the right way round."""

from __future__ import annotations

import numpy as np
import pytest

from curate.classify.linear_head import LinearHead, load_head
from curate.models import shipped


@pytest.mark.parametrize("name, labels", [("quality_minilm.npz", ("lq", "hq")),
                                          ("hate_minilm.npz", ("not_hate", "hate"))])
def test_shipped_heads_load(name, labels):
    head = load_head(shipped(name))
    assert head.labels == labels and head.embedder == "all-MiniLM-L6-v2" and head.max_tokens == 128
    assert head.weights.shape == (384,) and np.isfinite(head.weights).all()
    scores = head.score(np.eye(384, dtype=np.float32)[:3])
    assert scores.shape == (3,) and ((scores > 0) & (scores < 1)).all()


def test_hate_head_carries_its_default_cut():
    cut = load_head(shipped("hate_minilm.npz")).threshold
    assert cut is not None and 0.0 < cut < 1.0


def test_saving_is_byte_for_byte_reproducible_and_old_files_load(tmp_path):
    head = LinearHead(weights=np.arange(4, dtype=np.float32), bias=0.5, labels=("a", "b"), embedder="e",
                      max_tokens=8, threshold=0.25)
    head.save(str(tmp_path / "one.npz"))
    head.save(str(tmp_path / "two.npz"))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    assert load_head(str(tmp_path / "one.npz")).threshold == 0.25
    with open(tmp_path / "old.npz", "wb") as handle:  # the format before the optional threshold
        np.savez(handle, format=np.array("curate-linear-head-1"), weights=np.ones(4, dtype=np.float32),
                 bias=np.array(0.0), labels=np.array(["a", "b"]), embedder=np.array("e"), max_tokens=np.array(8))
    old = load_head(str(tmp_path / "old.npz"))
    assert old.threshold is None and old.labels == ("a", "b")


@pytest.fixture(scope="module")
def minilm():
    from curate.icp.embed import MiniLMEmbedder

    return MiniLMEmbedder(max_tokens=128, batch_size=16, threads=1, device="cpu", precision="float32")


def _scores(embedder, name: str, texts: list[str]) -> np.ndarray:
    return load_head(shipped(name)).score(embedder.embed(texts))


def test_hate_head_separates_implicit_hate_from_a_neutral_mention_and_profanity(minilm):
    hateful, neutral, profane, plain = _scores(minilm, "hate_minilm.npz", [
        "Muslims can never be trusted to live among decent people; every one of them is a threat to our way of life.",
        "Many Muslims in this country celebrate Eid with their families and neighbours.",
        "This fucking printer is a piece of shit, I swear to god I will throw it out the damn window.",
        "The committee will meet on Tuesday to discuss next year's budget."])
    cut = load_head(shipped("hate_minilm.npz")).threshold
    assert hateful > neutral and hateful > profane and hateful > plain
    assert profane < cut and plain < cut


def test_quality_head_prefers_edited_prose_and_is_unsure_of_very_short_text(minilm):
    sms, prose, empty, one_word = _scores(minilm, "quality_minilm.npz", [
        "Ok... Thanx... Gd nite 2 ü too...",
        "The harbour was quiet that winter. Most of the fishing fleet had been laid up since November, and the "
        "few men who still went out did so before dawn, returning with small catches that barely paid for fuel.",
        "", "Yes"])
    assert prose > 0.5 > sms
    assert 0.05 < empty < 0.95 and one_word < 0.95
