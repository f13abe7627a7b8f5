"""The global step of a classifier stage with a ``percentile``: the cut over every document's score.

The classifier's map step has written the score column on every document it
scored; this step reads only ``_order`` and that column, takes the percentile
of the non-null scores of the whole data set, and marks the documents that
fail it (drop columns, or ``<stage>_reason`` with ``mode: annotate``). Texts
are never read here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.classify.threshold import decide_by_score, failing, percentile_cut
from curate.stage import ORDER, GlobalResult, GlobalStage, Stats
from curate.stages.classify_params import ClassifyParams


def summarize_scores(stats: Stats) -> Stats:
    """Adds the mean score and the share failing to summed statistics."""
    scored = stats.get("scored", 0)
    if scored and "score_sum" in stats:
        stats = {**stats, "mean_score": round(stats["score_sum"] / scored, 6)}
    if scored and "failed" in stats:
        stats = {**stats, "failed_share": round(stats["failed"] / scored, 6)}
    return stats


class PercentileCut(GlobalStage[ClassifyParams]):
    """Drop (or annotate) the documents whose ``column`` fails the ``percentile`` of all of them.

    Made by a classifier stage's ``decompose``, under that stage's ``name``.
    """

    Params = ClassifyParams

    def __init__(self, name: str, params: ClassifyParams, column: str) -> None:
        super().__init__(params)
        if params.percentile is None:
            raise ValueError(f"{name}: a percentile cut needs a percentile")
        self.name = name
        self.column = column
        self.columns = (ORDER, column)

    def run(self, dataset: Any) -> GlobalResult:
        p = self.params
        assert p.percentile is not None  # checked when made
        scores = dataset.materialize()
        values = _collect(scores, self.column)
        cut = percentile_cut(values, p.percentile)
        marks = scores.map_batches(self.marks, fn_kwargs={"cut": cut}, batch_format="pyarrow")
        stats = {"scored": len(values), "score_sum": float(values.astype(np.float64).sum()),
                 "failed": int(failing(values, cut, p.keep).sum()), "cut": round(cut, 6)}
        if p.languages:
            stats["skipped_language"] = scores.count() - len(values)
        return GlobalResult(marks=marks, stats=stats)

    def marks(self, batch: pa.Table, cut: float) -> pa.Table:
        """Every row of ``batch`` (``_order`` and the score) with the decision at ``cut``, the score left out."""
        p = self.params
        scores = batch.column(self.column).to_numpy()
        decided, _ = decide_by_score(self.name, batch, p.mode, scores, self.column, cut, p.keep, p.reason)
        return decided.drop_columns([self.column])

    @classmethod
    def summarize(cls, stats: Stats) -> Stats:
        return summarize_scores(stats)


def _collect(dataset: Any, column: str) -> np.ndarray:
    """The non-null values of ``column`` (documents out of a languages filter have none)."""
    import ray

    blocks = ray.get(dataset.select_columns([column]).to_arrow_refs())
    if not blocks:
        return np.zeros(0, dtype=np.float32)
    return np.asarray(pc.drop_null(pa.concat_tables(blocks).column(column)).to_numpy(), dtype=np.float32)
