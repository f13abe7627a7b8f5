"""Fitting one fold: a MiniLM head and the fastText baseline on the same texts, and scoring held-out texts.

Shared by the quality and hate trainers (scripts/train_heads.py). Both
models see the same fit texts of each fold; the head is a class-balanced
logistic regression on cached embeddings, fastText the recipe of
``curate train-classifier`` (word bigrams, one thread, fixed seed), unquantised.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from curate.classify.fasttext_model import predict_scores
from curate.classify.linear_head import train_head
from curate.classify.metrics import roc_auc
from curate.classify.train import TrainParams, train_classifier

Scorer = Callable[[Sequence[str]], np.ndarray]
L2 = 1e-3


def group_weights(groups: Sequence[object]) -> np.ndarray:
    """1 / (rows of the same group): every group weighs the same within its class."""
    counts = Counter(groups)
    return np.array([1.0 / counts[g] for g in groups])


def fit_head(x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    return train_head(x, y, l2=L2, sample_weight=weight)


def head_scores(model: tuple[np.ndarray, float], x: np.ndarray) -> np.ndarray:
    weights, bias = model
    return 1.0 / (1.0 + np.exp(-(x.astype(np.float64) @ weights + bias)))


def fit_fasttext(texts: Sequence[str], positive: Sequence[bool], seed: int) -> Scorer:
    """A fastText classifier on the same texts (labels ``pos``/``neg``); returns a function scoring P(pos)."""
    import fasttext

    examples = [(t, "pos" if p else "neg") for t, p in zip(texts, positive)]
    params = TrainParams(dim=64, bucket=200_000, quantize=False, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        train_classifier(examples, f"{tmp}/fold.bin", "pos", validation=examples[:2], params=params)
        model = fasttext.load_model(f"{tmp}/fold.bin")
    column = model.labels.index("__label__pos")
    return lambda batch: predict_scores(model, list(batch))[:, column].astype(np.float64)


def shipped_fasttext(name: str, label: str) -> Scorer:
    """A shipped fastText model of curate/models scoring P(``label``)."""
    import fasttext

    from curate.models import shipped

    model = fasttext.load_model(shipped(name))
    column = model.labels.index(f"__label__{label}")
    return lambda batch: predict_scores(model, list(batch))[:, column].astype(np.float64)


def auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    value = roc_auc(np.asarray(positive, dtype=bool), np.asarray(scores))
    return None if value is None else round(value, 4)


def cut_at_share(scores_by_source: dict[str, np.ndarray], share: float) -> float:
    """The lowest cut at which no source has more than ``share`` of its scores at or above it."""
    return float(max(np.quantile(s, 1.0 - share, method="higher") for s in scores_by_source.values())) + 1e-9


def flagged(scores: np.ndarray, cut: float) -> float:
    return round(float((np.asarray(scores) >= cut).mean()), 4) if len(scores) else 0.0
