"""``length_filter``: drop documents outside character and word bounds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.stage import MapStage, StageParams, mark_drops


class LengthFilterParams(StageParams):
    min_chars: int | None = Field(None, ge=0, description="Drop documents with fewer characters.")
    max_chars: int | None = Field(None, ge=0, description="Drop documents with more characters.")
    min_words: int | None = Field(None, ge=0, description="Drop documents with fewer whitespace-separated words.")
    max_words: int | None = Field(None, ge=0, description="Drop documents with more whitespace-separated words.")

    @model_validator(mode="after")
    def _bounds_ordered(self) -> LengthFilterParams:
        for low, high in (("min_chars", "max_chars"), ("min_words", "max_words")):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low}={lo} is larger than {high}={hi}")
        return self


def word_counts(text: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Whitespace-separated words per document."""
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.fill_null(text, "")))
    counts = pc.list_value_length(words).to_numpy(zero_copy_only=False)
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(text, ""))), 0)
    return np.where(np.asarray(empty, dtype=bool), 0, counts)


class LengthFilter(MapStage):
    """Keep documents within [min, max] characters and words.

    Drop reasons: ``too_few_chars``, ``too_many_chars``, ``too_few_words``,
    ``too_many_words`` (checked in that order); the detail gives the measured
    length and the bound.
    """

    name = "length_filter"
    Params = LengthFilterParams

    def process_batch(self, batch: pa.Table) -> pa.Table:
        p: LengthFilterParams = self.params  # type: ignore[assignment]
        text = batch.column("text")
        chars = pc.utf8_length(pc.fill_null(text, "")).to_numpy(zero_copy_only=False)
        needs_words = p.min_words is not None or p.max_words is not None
        words = word_counts(text) if needs_words else None
        checks = [
            ("too_few_chars", chars, p.min_chars, np.less, "chars", "<"),
            ("too_many_chars", chars, p.max_chars, np.greater, "chars", ">"),
            ("too_few_words", words, p.min_words, np.less, "words", "<"),
            ("too_many_words", words, p.max_words, np.greater, "words", ">"),
        ]
        for reason, values, bound, compare, unit, symbol in checks:
            if bound is None or values is None:
                continue
            mask = compare(values, bound)
            if mask.any():
                detail = [f"{unit}={v} {symbol} {bound}" if m else None for v, m in zip(values, mask)]
                batch = mark_drops(batch, mask, reason, detail=detail)
        return batch
