"""Sharing an epoch's rows between readers (one dataloader worker of one rank) so that each does the same work.

A data-parallel job must give every rank the same number of items per epoch: a rank that runs out of
batches first stops calling the collectives the others wait in, and the job hangs at the end of the
epoch. ``torch.utils.data.DistributedSampler`` (PyTorch, ``torch/utils/data/distributed.py``) guarantees it
for map-style datasets: with ``drop_last=False`` it pads the index list by repeating its first indices until
it divides evenly (``ceil(N / world_size)`` a rank), with ``drop_last=True`` it cuts the tail
(``floor(N / world_size)`` a rank). Here the same two choices apply to a stream read unit by unit:

* the epoch's units (row-group slices, in the epoch's order) are laid end to end and cut into one
  contiguous span of rows per reader, as equal as rows allow (units are split at the cuts);
* a reader's item count is known before reading: its rows, or, where rows are grouped into contexts
  that stay whole, the rows of the contexts that *start* in its span (:class:`ContextRuns`);
* ``pad`` repeats a reader's first items up to the largest count, ``drop`` stops every reader at the
  smallest count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Equalize = Literal["pad", "drop"]


@dataclass(frozen=True)
class Unit:
    """Rows ``[start, stop)`` of one row group of one file."""

    file: int
    row_group: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start


class ContextRuns:
    """Runs of equal group keys in one file: where each starts and how many rows it has.

    A context is a run of equal keys in a file (shards end with contexts); the reader whose unit holds a
    context's first row yields the whole context.
    """

    def __init__(self, keys: np.ndarray) -> None:
        n = len(keys)
        first = np.ones(n, dtype=bool)
        if n > 1:
            first[1:] = keys[1:] != keys[:-1]
        self.starts = np.flatnonzero(first)
        lengths = np.diff(np.append(self.starts, n))
        self.cumulative = np.concatenate([[0], np.cumsum(lengths)])

    def rows_starting_in(self, start: int, stop: int) -> int:
        """Rows of the contexts whose first row is in ``[start, stop)`` (file row numbers)."""
        first, last = np.searchsorted(self.starts, [start, stop], side="left")
        return int(self.cumulative[last] - self.cumulative[first])


def split_spans(units: list[Unit], readers: int) -> list[list[Unit]]:
    """The units cut into ``readers`` contiguous spans whose row counts differ by at most one."""
    total = sum(unit.rows for unit in units)
    bounds = [reader * total // readers for reader in range(readers + 1)]
    spans: list[list[Unit]] = [[] for _ in range(readers)]
    reader, position = 0, 0
    for unit in units:
        start = unit.start
        while start < unit.stop:
            while position >= bounds[reader + 1] and reader < readers - 1:
                reader += 1
            take = min(unit.stop - start, bounds[reader + 1] - position)
            spans[reader].append(Unit(unit.file, unit.row_group, start, start + take))
            start += take
            position += take
    return spans


def equal_count(counts: list[int], equalize: Equalize | None, reader: int) -> int:
    """How many items ``reader`` yields: its own count, or the largest (pad) or smallest (drop) of all readers."""
    if equalize is None:
        return counts[reader]
    if equalize == "pad":
        return max(counts)
    if equalize == "drop":
        return min(counts)
    raise ValueError(f"equalize must be 'pad', 'drop' or None, not {equalize!r}")
