"""``length_filter``: measure documents in characters and words, drop or annotate those outside bounds."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.stage import FilterParams, MapStage, Stats
from curate.tables import decide, drop_mask, set_column

CHAR_COUNT = "char_count"
WORD_COUNT = "word_count"


class LengthFilterParams(FilterParams):
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

    @property
    def counts_words(self) -> bool:
        return self.min_words is not None or self.max_words is not None


def char_counts(text: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Characters (code points) per document; a null text counts 0."""
    return np.asarray(pc.utf8_length(pc.fill_null(text, "")).to_numpy(zero_copy_only=False), dtype=np.int64)


def word_counts(text: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Whitespace-separated words per document."""
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.fill_null(text, "")))
    counts = pc.list_value_length(words).to_numpy(zero_copy_only=False)
    empty = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(pc.fill_null(text, ""))), 0)
    return np.where(np.asarray(empty, dtype=bool), 0, counts).astype(np.int64)


# (reason, measure, bound parameter, comparison that fails, symbol in the detail), checked in this order.
_RULES = (
    ("too_few_chars", "chars", "min_chars", np.less, "<"),
    ("too_many_chars", "chars", "max_chars", np.greater, ">"),
    ("too_few_words", "words", "min_words", np.less, "<"),
    ("too_many_words", "words", "max_words", np.greater, ">"),
)


class LengthFilter(MapStage[LengthFilterParams]):
    """Keep documents within [min, max] characters and words.

    Always writes ``char_count``, and ``word_count`` when a word bound is set.
    Reasons: ``too_few_chars``, ``too_many_chars``, ``too_few_words``,
    ``too_many_words``, checked in that order; the first failing rule names a
    document. ``mode: drop`` marks those documents (the detail gives the
    measured length and the bound); ``mode: annotate`` keeps them and writes the
    reason to ``length_filter_reason``.

    Stats: ``checked`` (documents not already marked by an earlier stage) and
    ``failed`` per reason among them.
    """

    name = "length_filter"
    Params = LengthFilterParams

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        p = self.params
        live = ~drop_mask(batch)
        text = batch.column("text")
        measured = {"chars": char_counts(text)}
        batch = set_column(batch, CHAR_COUNT, pa.array(measured["chars"], pa.int64()))
        if p.counts_words:
            measured["words"] = word_counts(text)
            batch = set_column(batch, WORD_COUNT, pa.array(measured["words"], pa.int64()))
        codes, details = self._first_failures(measured, batch.num_rows)
        reasons = np.array([None, *self._reasons()], dtype=object)[codes]
        batch = decide(self.name, batch, p.mode, codes > 0, reasons, details)
        return batch, self._stats(codes[live])

    def _active_rules(self) -> list[tuple[str, str, int, np.ufunc, str]]:
        """The rules whose bound is set, in checking order, with the bound filled in."""
        bounds = {param: getattr(self.params, param) for _, _, param, _, _ in _RULES}
        return [(reason, unit, bounds[param], compare, symbol)
                for reason, unit, param, compare, symbol in _RULES if bounds[param] is not None]

    def _reasons(self) -> list[str]:
        return [rule[0] for rule in self._active_rules()]

    def _first_failures(self, measured: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
        """Per document: 1 + the index of the first failing active rule (0: all pass), and its detail."""
        codes = np.zeros(n, dtype=np.int64)
        details = np.full(n, None, dtype=object)
        for code, (_, unit, bound, compare, symbol) in enumerate(self._active_rules(), start=1):
            values = measured[unit]
            new = compare(values, bound) & (codes == 0)
            codes[new] = code
            details[new] = [f"{unit}={v} {symbol} {bound}" for v in values[new]]
        return codes, details

    def _stats(self, codes: np.ndarray) -> Stats:
        """Counts for the manifest; every active rule is listed so that batches sum to the same keys."""
        failed = np.bincount(codes, minlength=len(self._reasons()) + 1)
        return {"checked": int(len(codes)), "failed": {r: int(failed[i]) for i, r in enumerate(self._reasons(), 1)}}
