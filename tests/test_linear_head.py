"""The second classifier kind: a logistic-regression head on sentence embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from curate.classify.fasttext_model import ModelFileError
from curate.classify.linear_head import LinearHead, load_head, train_head
from curate.classify.metrics import roc_auc
from curate.config import ConfigError, parse_pipeline
from curate.stage import drop_mask
from tests.conftest import documents


def test_head_learns_a_direction_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 16)).astype(np.float32)
    y = x[:, 3] + 0.3 * rng.normal(size=400) > 0.5  # imbalanced: about a third positive
    weights, bias = train_head(x[:300], y[:300])
    head = LinearHead(weights=weights, bias=bias, labels=("clean", "toxic"), embedder="test", max_tokens=8)
    assert roc_auc(y[300:], head.score(x[300:])) > 0.95
    path = tmp_path / "head.npz"
    head.save(str(path))
    loaded = load_head(str(path))
    np.testing.assert_allclose(loaded.score(x[:5]), head.score(x[:5]), rtol=1e-5)
    assert loaded.labels == ("clean", "toxic") and loaded.max_tokens == 8


def test_missing_or_foreign_head_names_the_path(tmp_path):
    with pytest.raises(ModelFileError, match="not found: .*nope.npz"):
        load_head(str(tmp_path / "nope.npz"))
    foreign = tmp_path / "foreign.npz"
    np.savez(str(tmp_path / "foreign"), weights=np.zeros(3))
    with pytest.raises(ModelFileError, match="foreign.npz is not a linear-head file"):
        load_head(str(foreign))
    with pytest.raises(ConfigError, match="nope.npz"):
        parse_pipeline({"stages": [{"classify_embedding": {"model": str(tmp_path / "nope.npz")}}]})


def test_embedding_stage_scores_bad_input_and_decides(tmp_path):
    """The stage's scoring and decision, with a hashing embedder in place of MiniLM (no model load)."""
    from curate.icp.embed import HashingEmbedder
    from curate.stages.classify_embedding import ClassifyEmbedding

    rng = np.random.default_rng(1)
    head = LinearHead(weights=rng.normal(size=64).astype(np.float32), bias=0.0, labels=("a", "b"),
                      embedder="hashing", max_tokens=32)
    head.save(str(tmp_path / "head.npz"))
    texts = ["A plain sentence about the weather.", "", "   ", "\x00\x01 binary \ufffd", "日本語の文です。",
             "Another sentence, about trains and rain."]
    stage = ClassifyEmbedding(model=str(tmp_path / "head.npz"), threshold=0.5, keep="below")
    stage.head, stage.embedder = load_head(str(tmp_path / "head.npz")), HashingEmbedder(dim=64)
    out, stats = stage.process_batch(documents(texts))
    scores = out.column("embedding_score").to_numpy()
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert drop_mask(out).tolist() == (scores >= 0.5).tolist() and stats["failed"] == int((scores >= 0.5).sum())
