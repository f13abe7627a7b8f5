"""Boosted trees exported from scikit-learn and walked with numpy give the classifier's own log-odds."""

import json

import numpy as np
import pytest

from curate.rewriting.block_head import default_head
from curate.rewriting.trees import Trees


def test_exported_trees_give_scikit_learns_log_odds_after_a_json_round_trip():
    ensemble = pytest.importorskip("sklearn.ensemble")
    rng = np.random.default_rng(0)
    x = rng.random((1500, 5))
    y = ((x[:, 0] > 0.5) ^ (x[:, 1] > 0.3) | (x[:, 4] > 0.9)).astype(int)  # an interaction a line cannot fit
    model = ensemble.HistGradientBoostingClassifier(max_iter=40, max_depth=4, random_state=0).fit(
        x, y, sample_weight=rng.random(1500) + 0.5)
    trees = Trees.from_dict(json.loads(json.dumps(Trees.from_sklearn(model).to_dict())))
    test = rng.random((300, 5))
    assert np.allclose(trees.log_odds(test), model.decision_function(test), atol=1e-9)
    assert ((trees.log_odds(test) > 0) == model.predict(test).astype(bool)).all()


def test_a_missing_value_goes_where_the_split_sends_it():
    stump = Trees(0.5, np.array([[0, 0, 0]]), np.array([[1.0, 0, 0]]), np.array([[False, True, True]]),
                  np.array([[1, 0, 0]]), np.array([[2, 0, 0]]), np.array([[False, True, True]]),
                  np.array([[0.0, -1.0, 2.0]]), 1)
    assert stump.log_odds(np.array([[0.5], [1.5], [np.nan]])).tolist() == [-0.5, 2.5, 2.5]


def test_the_shipped_web_head_is_trees_and_the_other_head_a_regression():
    head = default_head()
    assert head.trees is None and head.coef.size == len(head.names)
    assert head.web_head is not None and head.web_head.trees is not None and head.web_head.web
