"""Training a linear head on all-MiniLM-L6-v2 embeddings from labelled texts (``train-classifier --kind head``).

The texts are embedded once (their first ``max_tokens`` tokens), a class-
balanced logistic regression is fitted on the training part
(:func:`curate.classify.linear_head.train_head`) and scored on the held-out
part. The head is written as a :class:`~curate.classify.linear_head.LinearHead`
``.npz`` that the ``classify_embedding`` stage loads; its metrics go beside
it as ``<stem>.metrics.json``. Graded labels (an LM's 0-5 scores) are made
binary with a cut; their rank correlation with the head's score on the
held-out part is reported too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from curate.classify.linear_head import LinearHead, train_head
from curate.classify.metrics import binary_metrics
from curate.classify.train import metrics_path_of

KIND = "logistic regression on all-MiniLM-L6-v2 embeddings"


@dataclass
class HeadExamples:
    """Texts, whether each is positive, and (optionally) the graded label it was cut from."""

    texts: list[str]
    positive: np.ndarray
    grades: np.ndarray | None = None

    def subset(self, mask: np.ndarray) -> HeadExamples:
        return HeadExamples([t for t, m in zip(self.texts, mask) if m], self.positive[mask],
                            None if self.grades is None else self.grades[mask])


@dataclass
class HeadReport:
    model_path: str
    metrics_path: str
    labels: tuple[str, str]
    train_examples: int
    validation_examples: int
    metrics: dict[str, Any] = field(default_factory=dict)


def evaluate_head(head: LinearHead, vectors: np.ndarray, examples: HeadExamples) -> dict[str, Any]:
    """Binary metrics of the head's P(positive) at 0.5, and Spearman's rho with the grades when there are any."""
    if not examples.texts:
        return {}
    scores = head.score(vectors)
    metrics: dict[str, Any] = dict(binary_metrics(examples.positive, scores))
    if examples.grades is not None and np.ptp(examples.grades) > 0 and np.ptp(scores) > 0:
        metrics["spearman_with_label"] = round(float(spearmanr(scores, examples.grades).statistic), 4)
    return metrics


def train_head_classifier(train: HeadExamples, validation: HeadExamples, output: str, labels: tuple[str, str],
                          max_tokens: int = 128, l2: float = 1e-3, threads: int = 1,
                          details: dict[str, Any] | None = None) -> HeadReport:
    """Fit, save and validate a head; ``labels`` is (negative, positive); ``details`` go into the metrics file."""
    from curate.icp.embed import MiniLMEmbedder

    if len(set(train.positive.tolist())) < 2:
        raise ValueError(f"training needs both labels; the training part has only {labels[int(train.positive[0])]!r}"
                         if len(train.positive) else "no training examples")
    embedder = MiniLMEmbedder(max_tokens=max_tokens, threads=threads)
    vectors = embedder.embed(train.texts + validation.texts)
    weights, bias = train_head(vectors[:len(train.texts)], train.positive.astype(np.float64), l2=l2)
    head = LinearHead(weights=weights, bias=bias, labels=labels, embedder=embedder.model_name,
                      max_tokens=embedder.max_tokens)
    head.save(output)
    metrics = evaluate_head(head, vectors[len(train.texts):], validation)
    report = HeadReport(output, metrics_path_of(output), labels, len(train.texts), len(validation.texts), metrics)
    with open(report.metrics_path, "w", encoding="utf-8") as handle:
        json.dump({"model": os.path.basename(output), "kind": KIND, "embedder": head.embedder,
                   "max_tokens": head.max_tokens, "labels": list(labels), "positive_label": labels[1],
                   "train_examples": report.train_examples, "train_positives": int(train.positive.sum()),
                   "validation": metrics, "params": {"l2": l2}, **(details or {}),
                   "model_bytes": os.path.getsize(output)}, handle, indent=2)
    return report


def as_examples(texts: Sequence[str], positive: Sequence[bool], grades: Sequence[float] | None = None
                ) -> HeadExamples:
    return HeadExamples(list(texts), np.asarray(positive, dtype=bool),
                        None if grades is None else np.asarray(grades, dtype=np.float64))
