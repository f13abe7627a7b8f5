"""The shared machinery of the heuristic rule filters (Gopher, C4, FineWeb).

A rule filter measures values per document (``measure``), writes each as a
column named ``<prefix><value>``, and checks its rules in a fixed order: the
first failing rule names the document (drop reason, or ``<stage>_reason`` in
``mode: annotate``). Every rule reads one measured value and one threshold
parameter; a threshold set to ``null`` turns its rule off.

``definition`` picks how values are measured: ``paper`` (default) follows
the papers' definitions as curate reads them; ``datatrove`` reproduces
DataTrove 0.10.1's filters (its spaCy word tokenizer, denominators and line
splitting), so that decisions match a FineWeb-style DataTrove pipeline. The
differences are listed in docs/filters.md.

Stats for the manifest: ``checked`` (documents not already marked by an
earlier stage), ``failed`` (per rule, documents it names: the first rule they
fail) and ``failing`` (per rule, every live document that fails it, so the
effect of turning one rule off can be read off the manifest).

A filter may measure an expensive value only for the documents that every
earlier rule keeps (:meth:`RuleFilter.undecided`; ``definition: datatrove``
does so where DataTrove returns early): its column is null for the others,
and ``failing`` counts only the documents it was measured for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.errors import ConfigError
from curate.stage import FilterParams, MapStage, Stats
from curate.stages.spacy_words import spacy_available
from curate.stages.text_units import texts
from curate.tables import decide, drop_mask, set_column


class RuleParams(FilterParams):
    """Parameters every rule filter shares."""

    definition: Literal["paper", "datatrove"] = Field(
        "paper", description="paper: the published definitions as curate reads them; datatrove: DataTrove "
                             "0.10.1's definitions (its spaCy word tokenizer included; needs spacy), as FineWeb "
                             "was filtered.")


@dataclass(frozen=True)
class Rule:
    """A document fails when ``value`` (a measured column, without prefix) crosses ``param``.

    ``min``: fails below the threshold; ``max``: fails above it; ``flag``: the
    value is a boolean and the parameter a switch (fails when both are true).
    """

    reason: str
    value: str
    param: str
    kind: Literal["min", "max", "flag"]

    def fails(self, values: np.ndarray, threshold: float | bool) -> np.ndarray:
        if self.kind == "min":
            return values < threshold
        if self.kind == "max":
            return values > threshold
        return (values == 1) & bool(threshold)  # NaN (not measured) is not 1

    def detail(self, value: float, threshold: float | bool) -> str:
        if self.kind == "flag":
            return f"{self.value}=true"
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        return f"{self.value}={shown} {'<' if self.kind == 'min' else '>'} {threshold}"


R = TypeVar("R", bound=RuleParams)


def numeric(values: np.ndarray | pa.Array) -> np.ndarray:
    """A measured value as numpy; nulls (not measured) become NaN, which fails no rule."""
    if isinstance(values, pa.Array):
        return values.to_numpy(zero_copy_only=False).astype(np.float64)
    return values



class RuleFilter(MapStage[R]):
    """Base of the rule filters: subclasses give ``prefix``, ``rules`` and ``measure``."""

    prefix: ClassVar[str] = ""
    rules: ClassVar[tuple[Rule, ...]] = ()

    def __init__(self, params: R | None = None, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        if self.datatrove and not spacy_available():
            raise ConfigError(f"{self.name}: definition: datatrove needs spaCy (DataTrove's word tokenizer): "
                              f"pip install spacy")

    @property
    def datatrove(self) -> bool:
        """Whether values follow DataTrove's definitions."""
        return self.params.definition == "datatrove"

    def measure(self, text: pa.Array) -> dict[str, Any]:
        """Measured values per document, keyed by name without prefix (every rule's value included).

        Keys starting with ``_`` are not written as columns (intermediate results for :meth:`edit`).
        """
        raise NotImplementedError

    def undecided(self, measured: dict[str, Any]) -> np.ndarray:
        """Documents that no active rule whose value is already in ``measured`` fails (those a later,
        expensive value still matters for)."""
        n = len(next(iter(measured.values())))
        open_ = np.ones(n, dtype=bool)
        for rule in self._active():
            if rule.value in measured:
                open_ &= ~rule.fails(numeric(measured[rule.value]), getattr(self.params, rule.param))
        return open_

    def edit(self, batch: pa.Table, measured: dict[str, Any]) -> pa.Table:
        """Optionally change the text after measuring (C4's line removal); default: unchanged."""
        return batch

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        live = ~drop_mask(batch)
        text = texts(batch)
        measured = self.measure(text)
        for name, values in measured.items():
            if not name.startswith("_"):
                batch = set_column(batch, self.prefix + name, values)
        batch = self.edit(batch, measured)
        codes, details, failing = self._check(measured, batch.num_rows)
        reasons = np.array([None, *(rule.reason for rule in self._active())], dtype=object)[codes]
        batch = decide(self.name, batch, self.params.mode, codes > 0, reasons, details)
        return batch, self._stats(codes[live], failing[:, live])

    def _active(self) -> list[Rule]:
        # `is`, not `in (None, False)`: a threshold of 0 is a real threshold
        return [rule for rule in self.rules
                if getattr(self.params, rule.param) is not None and getattr(self.params, rule.param) is not False]

    def _check(self, measured: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per document: 1 + index of the first failing active rule (0: none), its detail, and every failure."""
        active = self._active()
        codes = np.zeros(n, dtype=np.int64)
        details = np.full(n, None, dtype=object)
        failing = np.zeros((len(active), n), dtype=bool)
        for index, rule in enumerate(active):
            threshold = getattr(self.params, rule.param)
            values = numeric(measured[rule.value])
            failing[index] = rule.fails(values, threshold)
            new = failing[index] & (codes == 0)
            codes[new] = index + 1
            details[new] = [rule.detail(v, threshold) for v in values[new].tolist()]
        return codes, details, failing

    def _stats(self, codes: np.ndarray, failing: np.ndarray) -> Stats:
        """Every active rule is listed, so that batches sum to the same keys."""
        active = self._active()
        named = np.bincount(codes, minlength=len(active) + 1)
        return {"checked": int(len(codes)),
                "failed": {rule.reason: int(named[i + 1]) for i, rule in enumerate(active)},
                "failing": {rule.reason: int(failing[i].sum()) for i, rule in enumerate(active)}}

