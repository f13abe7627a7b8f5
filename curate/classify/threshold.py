"""Score thresholds: absolute or a percentile of the whole data set, keeping documents above or below the cut."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa

from curate.tables import decide

Keep = Literal["above", "below"]


def failing(scores: np.ndarray, cut: float, keep: Keep) -> np.ndarray:
    """Which documents fail: ``keep: above`` keeps ``score >= cut``; ``keep: below`` keeps ``score < cut``."""
    scores = np.asarray(scores)
    return scores < cut if keep == "above" else scores >= cut


def percentile_cut(scores: np.ndarray, percentile: float) -> float:
    """The ``percentile``-th percentile (0-100) of ``scores`` (linear interpolation); 0.0 for no scores."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return 0.0
    return float(np.percentile(scores, percentile))


def detail(column: str, scores: np.ndarray, cut: float, keep: Keep) -> list[str]:
    """Why each (failing) document was dropped, e.g. ``quality_score=0.0123 < 0.2``."""
    symbol = "<" if keep == "above" else ">="
    return [f"{column}={s:.4g} {symbol} {cut:.4g}" for s in np.asarray(scores, dtype=np.float64)]


def decide_by_score(stage_name: str, batch: pa.Table, mode: str, scores: np.ndarray, column: str, cut: float,
                    keep: Keep, reason: str) -> tuple[pa.Table, int]:
    """Drop or annotate the rows of ``batch`` whose score fails ``cut``, with a :func:`detail` each; returns the
    batch and how many failed."""
    mask = failing(scores, cut, keep)
    why = np.full(len(scores), None, dtype=object)
    why[mask] = detail(column, scores[mask], cut, keep)
    return decide(stage_name, batch, mode, mask, reason, detail=pa.array(why, pa.string())), int(mask.sum())
