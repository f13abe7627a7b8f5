"""Corpus-wide line repetition: in how many documents each normalised line occurs.

Site chrome (a navigation bar, a footer, a newsletter banner) repeats from page
to page of a site, while a paragraph rarely occurs twice. The ``blocks``
classifier uses these counts as features. A line is normalised (lower case,
whitespace collapsed) and hashed to 64 bits (xxh64); only lines that occur in
at least two documents are kept, as two sorted numpy arrays (a 64-bit hash and
a count capped at 255: 9 bytes per repeated line), so the table is compact and
is shipped to the workers with the stage.

Counting over a Ray dataset is a ``map_batches`` (per-batch counts of the
distinct lines of each document) and a ``groupby`` sum over the hashes: exact,
so the result does not depend on how the input is split into blocks. When only
a few documents will be judged (``max_documents``), only their lines are
counted: each batch returns the counts of those lines alone, summed on the
driver, with no shuffle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash


def line_hash(line: str) -> int:
    return xxhash.xxh64_intdigest(" ".join(line.lower().split()).encode())


def document_hashes(lines: Iterable[str]) -> set[int]:
    """The distinct normalised non-blank lines of one document, hashed."""
    return {line_hash(line) for line in lines if line.strip()}


class LineRepeats:
    """Document counts of the lines that occur in at least two documents."""

    def __init__(self, hashes: np.ndarray, counts: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        self.hashes = np.asarray(hashes, dtype=np.uint64)[order]
        self.counts = np.minimum(np.asarray(counts, dtype=np.int64)[order], 255).astype(np.uint8)

    def __len__(self) -> int:
        return len(self.hashes)

    @classmethod
    def from_counter(cls, counter: Counter[int]) -> LineRepeats:
        kept = [(h, c) for h, c in counter.items() if c >= 2]
        return cls(np.array([h for h, _ in kept], dtype=np.uint64), np.array([c for _, c in kept], dtype=np.int64))

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> LineRepeats:
        """Count over documents held in memory (a batch, a test, the evaluation set)."""
        return cls.from_counter(_document_counts(texts))

    @classmethod
    def from_dataset(cls, dataset: Any, only: set[int] | None = None) -> LineRepeats:
        """Count over a whole Ray dataset with a ``text`` column; ``only``: count these line hashes alone
        (the lines of the documents that will be judged), the same numbers for them without a shuffle."""
        if only is not None:
            counted = dataset.select_columns(["text"]).map_batches(
                _batch_counts, fn_kwargs={"only": only}, batch_format="pyarrow").take_all()
            counter: Counter[int] = Counter()
            for row in counted:
                counter[int(np.int64(row["hash"]).view(np.uint64))] += int(row["docs"])
            return cls.from_counter(counter)
        sums = (dataset.select_columns(["text"]).map_batches(_batch_counts, batch_format="pyarrow")
                .groupby("hash").sum("docs").map_batches(_repeated, batch_format="pyarrow"))
        hashes, counts = [], []
        for batch in sums.iter_batches(batch_format="pyarrow", batch_size=1 << 20):
            hashes.append(batch.column("hash").to_numpy().view(np.uint64))
            counts.append(batch.column("docs").to_numpy())
        if not hashes:
            return cls(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64))
        return cls(np.concatenate(hashes), np.concatenate(counts))

    def line_counts(self, lines: list[str]) -> list[int]:
        """Per line: the number of documents it occurs in (1 for a line seen once or never, 0 for a blank one)."""
        if not len(self.hashes):
            return [1 if line.strip() else 0 for line in lines]
        keys = np.array([line_hash(line) for line in lines], dtype=np.uint64)
        at = np.minimum(np.searchsorted(self.hashes, keys), len(self.hashes) - 1)
        found = np.where(self.hashes[at] == keys, self.counts[at], 1)
        return [int(c) if line.strip() else 0 for c, line in zip(found.tolist(), lines)]


def _document_counts(texts: Iterable[str | None]) -> Counter[int]:
    """In how many of ``texts`` each normalised non-blank line (hashed) occurs."""
    counter: Counter[int] = Counter()
    for text in texts:
        if text:
            counter.update(document_hashes(text.split("\n")))
    return counter


def _batch_counts(batch: pa.Table, only: set[int] | None = None) -> pa.Table:
    """Per-batch document counts of each line hash (of the hashes in ``only`` alone, when given)."""
    counter = _document_counts(batch.column("text").to_pylist())
    kept = counter if only is None else {h: c for h, c in counter.items() if h in only}
    hashes = np.fromiter(kept, dtype=np.uint64, count=len(kept)).view(np.int64)  # Ray groups signed ints
    return pa.table({"hash": pa.array(hashes, pa.int64()), "docs": pa.array(list(kept.values()), pa.int64())})


def _repeated(batch: pa.Table) -> pa.Table:
    """The summed counts of at least two documents, renamed back to ``docs``."""
    docs = batch.column("sum(docs)")
    keep = pc.greater_equal(docs, 2)
    return pa.table({"hash": batch.column("hash").filter(keep), "docs": docs.filter(keep)})
