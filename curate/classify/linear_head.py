"""A second classifier kind: logistic regression on sentence embeddings (all-MiniLM-L6-v2 by default).

Embeddings carry meaning rather than surface words, so a linear head on them
can transfer across sources where a bigram model learns a source's slang.
A head is a small ``.npz`` file: weights, bias, the two labels and the
embedder it was trained with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from curate.classify.fasttext_model import ModelFileError

FORMAT = "curate-linear-head-1"


@dataclass(frozen=True)
class LinearHead:
    weights: np.ndarray
    bias: float
    labels: tuple[str, str]  # (negative, positive)
    embedder: str
    max_tokens: int

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """P(positive label) for each embedding row."""
        return (1.0 / (1.0 + np.exp(-(vectors @ self.weights + self.bias)))).astype(np.float32)

    def save(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as handle:  # a file handle: np.savez would append .npz to other names
            np.savez(handle, format=np.array(FORMAT), weights=self.weights.astype(np.float32),
                     bias=np.array(self.bias), labels=np.array(self.labels), embedder=np.array(self.embedder),
                     max_tokens=np.array(self.max_tokens))


def load_head(path: str) -> LinearHead:
    """The head stored at ``path``; a missing or foreign file is a :class:`ModelFileError` naming it."""
    if not os.path.isfile(path):
        raise ModelFileError(f"linear head file not found: {path}. Train one with "
                             "scripts/train_default_models.py or curate.classify.linear_head.train_head")
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != FORMAT:
                raise ValueError(f"format {data['format']!s}")
            return LinearHead(weights=data["weights"].astype(np.float32), bias=float(data["bias"]),
                              labels=(str(data["labels"][0]), str(data["labels"][1])),
                              embedder=str(data["embedder"]), max_tokens=int(data["max_tokens"]))
    except Exception as exc:
        raise ModelFileError(f"{path} is not a linear-head file ({type(exc).__name__}: {exc}); it must be "
                             f"an .npz written by curate ({FORMAT})") from None


def train_head(vectors: np.ndarray, positive: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression (L-BFGS); returns weights and bias."""
    x = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(positive, dtype=np.float64)
    share = y.mean()
    sample = np.where(y == 1, 0.5 / max(share, 1e-9), 0.5 / max(1 - share, 1e-9)) / len(y)

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(sample * (np.logaddexp(0, z) - y * z)) + 0.5 * l2 * w @ w)
        residual = sample * (p - y)
        return value, np.append(x.T @ residual + l2 * w, residual.sum())

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x[:-1].astype(np.float32), float(result.x[-1])
