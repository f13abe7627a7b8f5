"""Binary classification metrics: precision, recall, F1 (at a score cut) and ROC AUC."""

from __future__ import annotations

import numpy as np


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U; ties count half); None when one class is absent."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    from scipy.stats import rankdata  # scipy.stats takes a second to import: only when scoring

    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(positive: np.ndarray, scores: np.ndarray, cut: float = 0.5) -> dict[str, float | int | None]:
    """Precision, recall and F1 of ``score >= cut`` against ``positive``, ROC AUC of the scores, and counts."""
    positive = np.asarray(positive, dtype=bool)
    predicted = np.asarray(scores) >= cut
    tp = int((predicted & positive).sum())
    fp = int((predicted & ~positive).sum())
    fn = int((~predicted & positive).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "roc_auc": None if (auc := roc_auc(positive, scores)) is None else round(auc, 4),
            "examples": len(positive), "positives": int(positive.sum()), "cut": cut}
