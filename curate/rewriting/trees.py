"""Boosted decision trees evaluated with numpy, shipped as plain JSON (no pickle, no scikit-learn at run time).

The ``blocks`` preset's head for converted web pages is a gradient-boosted
tree ensemble (scikit-learn's ``HistGradientBoostingClassifier``, fitted by
``benchmarks/rewrite_eval.py --save``): the cues of a page's chrome interact
(a short list item is a menu far from the prose and a table of facts inside
it), which a linear head cannot weigh. :meth:`Trees.from_sklearn` exports a
fitted binary classifier's trees into arrays; :meth:`Trees.log_odds` walks every
tree for every row at once, one level per step, and gives what the classifier's
``decision_function`` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Trees:
    """``base`` plus one leaf value per tree is the log-odds of the positive class. Arrays are (trees, nodes),
    padded with leaves; a row goes left at a node when ``x[feature] <= threshold`` (a missing value goes where
    ``missing_left`` says)."""

    base: float
    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    value: np.ndarray
    depth: int

    @classmethod
    def from_sklearn(cls, model) -> Trees:
        """The trees of a fitted binary ``HistGradientBoostingClassifier`` (numeric features only)."""
        nodes = [predictors[0].nodes for predictors in model._predictors]
        if any(n["is_categorical"].any() for n in nodes):
            raise ValueError("categorical splits are not supported")
        width = max(len(n) for n in nodes)

        def padded(field: str, dtype, fill) -> np.ndarray:
            out = np.full((len(nodes), width), fill, dtype=dtype)
            for t, n in enumerate(nodes):
                out[t, :len(n)] = n[field]
            return out

        return cls(float(np.ravel(model._baseline_prediction)[0]), padded("feature_idx", np.int64, 0),
                   padded("num_threshold", np.float64, 0.0), padded("missing_go_to_left", bool, True),
                   padded("left", np.int64, 0), padded("right", np.int64, 0), padded("is_leaf", bool, True),
                   padded("value", np.float64, 0.0), int(max(n["depth"].max() for n in nodes)))

    def log_odds(self, x: np.ndarray) -> np.ndarray:
        """The ensemble's log-odds for every row of ``x`` (rows, features)."""
        rows = np.arange(len(x))[:, None]
        trees = np.arange(self.feature.shape[0])[None, :]
        node = np.zeros((len(x), self.feature.shape[0]), dtype=np.int64)
        for _ in range(self.depth):
            values = x[rows, self.feature[trees, node]]
            go_left = np.where(np.isnan(values), self.missing_left[trees, node],
                               values <= self.threshold[trees, node])
            step = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(self.leaf[trees, node], node, step)
        return self.base + self.value[trees, node].sum(axis=1)

    def to_dict(self) -> dict:
        keep = ~self.leaf  # a leaf's feature, threshold and children are never read
        return {"base": self.base, "depth": self.depth,
                "feature": np.where(keep, self.feature, 0).tolist(),
                "threshold": np.where(keep, self.threshold, 0.0).tolist(),
                "missing_left": self.missing_left.astype(int).tolist(),
                "left": np.where(keep, self.left, 0).tolist(), "right": np.where(keep, self.right, 0).tolist(),
                "leaf": self.leaf.astype(int).tolist(), "value": np.where(self.leaf, self.value, 0.0).tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Trees:
        return cls(float(data["base"]), np.array(data["feature"], dtype=np.int64),
                   np.array(data["threshold"], dtype=np.float64), np.array(data["missing_left"], dtype=bool),
                   np.array(data["left"], dtype=np.int64), np.array(data["right"], dtype=np.int64),
                   np.array(data["leaf"], dtype=bool), np.array(data["value"], dtype=np.float64), int(data["depth"]))
