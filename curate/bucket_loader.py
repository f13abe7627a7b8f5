"""``curate.bucket_loader``: dataset decomposition's sampler over the length buckets of ``curate pack --buckets``.

``BucketBatches`` is a ``torch.utils.data.IterableDataset`` of whole batches (use ``batch_size=None`` in the
``DataLoader``): each batch holds rows of one bucket, ``tokens_per_batch / length`` of them, so every step
sees the same number of tokens; which bucket each batch comes from follows dataset decomposition's seeded,
cyclic draw (``curate.feed.schedule``), the same on every rank. Each bucket is read by a
``curate.loader.CurateDataset`` (split across ranks and workers, equal work per reader, shuffled), so every
reader yields the same number of batches of every length; a batch of a bucket with too few rows left is
not made (the reference drops partial batches too).

A batch: ``input_ids`` and ``loss_mask`` (``[batch, length]``), ``doc_starts`` and ``doc_ids`` per row (only
the smallest bucket holds more than one document piece a row), and ``length``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import IterableDataset, get_worker_info

from curate.feed.pack import read_pack_manifest
from curate.feed.readers import Equalize
from curate.feed.schedule import POW2, batch_sizes, bucket_odds, schedule
from curate.loader import CurateDataset, _distributed


class BucketBatches(IterableDataset):
    """Batches of one length bucket at a time, drawn with dataset decomposition's odds; see the module doc."""

    def __init__(self, source: str, *, tokens_per_batch: int, odds: str | dict[int, float] = POW2, cycles: int = 1,
                 seed: int = 0, shuffle_buffer: int = 256, rank: int | None = None, world_size: int | None = None,
                 metadata: bool | None = None, equalize: Equalize = "pad") -> None:
        """``tokens_per_batch``: tokens in every batch of one reader (a multiple of the largest bucket);
        ``odds``: ``"pow2"`` (short buckets favoured, the paper's best curriculum), ``"uniform"``, or a
        mapping of bucket length to odds; ``cycles``: how many times an epoch goes from mostly short to
        mostly long batches; ``metadata``: one share of a metadata-conditioned pack."""
        pack = read_pack_manifest(source)
        lengths = sorted({s.length for s in pack.shards if metadata is None or s.metadata == metadata})
        if not lengths:
            raise ValueError(f"{source}: no packed rows to read")
        self.lengths = lengths
        self.batch_size = batch_sizes(lengths, tokens_per_batch)
        self.odds = bucket_odds(lengths, odds)
        self.cycles, self.seed, self.epoch = cycles, seed, 0
        self.rank, self.world_size = _distributed(rank, world_size)
        self.buckets = {length: CurateDataset(source, length=length, metadata=metadata, seed=seed,
                                              shuffle_buffer=shuffle_buffer, rank=self.rank,
                                              world_size=self.world_size, equalize=equalize)
                        for length in lengths}
        self._yielded = self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for bucket in self.buckets.values():
            bucket.set_epoch(epoch)

    def batches(self, readers: int) -> dict[int, int]:
        """Batches of every bucket that each reader yields this epoch (the same for every reader)."""
        return {length: min(bucket.items_per_reader(readers)) // self.batch_size[length]
                for length, bucket in self.buckets.items()}

    def order(self, readers: int) -> list[int]:
        """The bucket length of every batch this epoch, in order (the same on every rank and worker)."""
        rng = random.Random(f"{self.seed}:{self.epoch}:buckets")
        return schedule(self.batches(readers), self.odds, self.cycles, rng)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "seed": self.seed, "batches": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["seed"] != self.seed:
            raise ValueError(f"the state was saved with seed={state['seed']}, this sampler has {self.seed}")
        self.set_epoch(state["epoch"])
        self._skip = state["batches"]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        readers = self.world_size * (info.num_workers if info is not None else 1)
        skip, self._skip, self._yielded = self._skip, 0, 0
        streams = {length: iter(bucket) for length, bucket in self.buckets.items()}
        for length in self.order(readers):
            rows = [next(streams[length]) for _ in range(self.batch_size[length])]
            self._yielded += 1
            if self._yielded > skip:  # earlier batches were consumed before the checkpoint
                yield _collate(rows, length)


def _collate(rows: list[dict[str, Any]], length: int) -> dict[str, Any]:
    return {"input_ids": torch.stack([row["input_ids"] for row in rows]),
            "loss_mask": torch.stack([row["loss_mask"] for row in rows]),
            "doc_starts": [row["doc_starts"] for row in rows], "doc_ids": [row["doc_ids"] for row in rows],
            "length": length}
