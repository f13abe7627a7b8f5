"""The second classifier kind: a logistic-regression head on sentence embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from curate.classify.fasttext_model import ModelFileError
from curate.classify.linear_head import LinearHead, load_head, train_head
from curate.classify.metrics import roc_auc
from curate.config import ConfigError, parse_pipeline


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

