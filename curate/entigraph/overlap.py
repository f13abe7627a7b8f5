"""N-gram overlap of synthetic text with its source: rephrasing or copying?

Words are lower-cased ``\\w+`` runs. For each ``n``, the share of the
synthetic text's word n-grams that also occur in the source. EntiGraph's
paper reports 23.4% (2-grams), 3.7% (4), 0.24% (8) and 0% (16): a text that
copies its source scores near 100% at every ``n``.
"""

from __future__ import annotations

import re

NGRAM_SIZES = (2, 4, 8, 16)
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


class SourceNgrams:
    """The n-gram sets of one source document, built once and matched against each synthetic text."""

    def __init__(self, source: str, sizes: tuple[int, ...] = NGRAM_SIZES) -> None:
        tokens = words(source)
        self.sizes = sizes
        self.sets = {n: ngrams(tokens, n) for n in sizes}

    def counts(self, synthetic: str) -> dict[str, dict[str, int]]:
        """``{"2": {"matched": m, "total": t}, ...}``: summable over texts, divided at the end."""
        tokens = words(synthetic)
        out = {}
        for n in self.sizes:
            grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
            out[str(n)] = {"matched": sum(1 for g in grams if g in self.sets[n]), "total": len(grams)}
        return out


def add_counts(total: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    """Add ``counts`` (as :meth:`SourceNgrams.counts` gives them) into ``total``, in place."""
    for n, c in counts.items():
        into = total.setdefault(n, {"matched": 0, "total": 0})
        into["matched"] += c["matched"]
        into["total"] += c["total"]


def overlap_shares(counts: dict[str, dict[str, int]]) -> dict[str, float | None]:
    """Shares from summed counts (``None`` where there was no n-gram of that size)."""
    return {n: round(c["matched"] / c["total"], 4) if c.get("total") else None for n, c in counts.items()}
