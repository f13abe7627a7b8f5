"""A second classifier kind: logistic regression on sentence embeddings (all-MiniLM-L6-v2 by default).

Embeddings carry meaning rather than surface words, so a linear head on them
can transfer across sources where a bigram model learns a source's slang.
A head is a small ``.npz`` file: weights, bias, the two labels, the embedder
it was trained with and, optionally, the default cut on its score
(``threshold``; files written before it existed load with ``None``).
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from curate.classify.fasttext_model import ModelFileError

FORMAT = "curate-linear-head-1"
# A fixed member time stamp: the same head always gives the same bytes (np.savez stamps the current time).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class LinearHead:
    weights: np.ndarray
    bias: float
    labels: tuple[str, str]  # (negative, positive)
    embedder: str
    max_tokens: int
    threshold: float | None = None  # the default cut on P(positive), chosen when the head was fitted

    def score(self, vectors: np.ndarray) -> np.ndarray:
        """P(positive label) for each embedding row."""
        z = np.asarray(vectors, dtype=np.float32) @ self.weights + np.float32(self.bias)
        return (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)

    def save(self, path: str) -> None:
        """Write the head as an ``.npz`` (a zip of ``.npy`` members), byte for byte the same for the same head."""
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        arrays = {"format": np.array(FORMAT), "weights": self.weights.astype(np.float32),
                  "bias": np.array(self.bias), "labels": np.array(self.labels),
                  "embedder": np.array(self.embedder), "max_tokens": np.array(self.max_tokens)}
        if self.threshold is not None:
            arrays["threshold"] = np.array(float(self.threshold))
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, array, allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_TIME), buffer.getvalue())


def load_head(path: str) -> LinearHead:
    """The head stored at ``path``; a missing or foreign file is a :class:`ModelFileError` naming it."""
    if not os.path.isfile(path):
        raise ModelFileError(f"linear head file not found: {path}. Train one with "
                             "scripts/train_heads.py or curate.classify.linear_head.train_head")
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != FORMAT:
                raise ValueError(f"format {data['format']!s}")
            threshold = float(data["threshold"]) if "threshold" in data.files else None
            return LinearHead(weights=data["weights"].astype(np.float32), bias=float(data["bias"]),
                              labels=(str(data["labels"][0]), str(data["labels"][1])),
                              embedder=str(data["embedder"]), max_tokens=int(data["max_tokens"]),
                              threshold=threshold)
    except Exception as exc:
        raise ModelFileError(f"{path} is not a linear-head file ({type(exc).__name__}: {exc}); it must be "
                             f"an .npz written by curate ({FORMAT})") from None


def train_head(vectors: np.ndarray, positive: np.ndarray, l2: float = 1e-3,
               sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Class-balanced, L2-regularised logistic regression (L-BFGS); returns weights and bias.

    Each class carries half of the total weight; ``sample_weight`` (optional)
    shares a class's half among its rows, e.g. so that every source of a class
    counts the same however many texts it has.
    """
    x = np.asarray(vectors, dtype=np.float64)
    y = np.asarray(positive, dtype=np.float64)
    base = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    pos_total, neg_total = base[y == 1].sum(), base[y == 0].sum()
    sample = np.where(y == 1, 0.5 * base / max(pos_total, 1e-12), 0.5 * base / max(neg_total, 1e-12))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:-1], theta[-1]
        z = x @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        value = float(np.sum(sample * (np.logaddexp(0, z) - y * z)) + 0.5 * l2 * w @ w)
        residual = sample * (p - y)
        return value, np.append(x.T @ residual + l2 * w, residual.sum())

    result = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x[:-1].astype(np.float32), float(result.x[-1])
