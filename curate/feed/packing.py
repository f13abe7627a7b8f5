"""Packing token sequences: fixed-length concatenation, and power-of-two decomposition.

A packed row is ``length`` token ids with the start of every document piece
in it (``doc_starts``), the piece's document id and where in its document the
piece begins (``doc_offsets``, in tokens; 0 for a document's first piece), so a training job can mask
attention per document (position ids restart at each start; flash-attention's
``cu_seqlens`` are the starts plus the row's token count). ``loss_mask`` is 0
on metadata-prefix tokens and on padding.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Row = dict  # one packed sequence: input_ids, loss_mask, doc_starts, doc_ids, doc_offsets, tokens, metadata, context_id


@dataclass
class Packer:
    """Concatenates documents into rows of exactly ``length`` tokens (the last one padded)."""

    length: int
    pad_id: int
    emit: Callable[[Row], None]
    metadata: bool = False
    context: int | None = None  # the in-context-pretraining context of the rows, where rows are aligned to contexts
    ids: np.ndarray = field(init=False)
    mask: np.ndarray = field(init=False)
    fill: int = field(default=0, init=False)
    starts: list[int] = field(default_factory=list, init=False)
    doc_ids: list[str] = field(default_factory=list, init=False)
    offsets: list[int] = field(default_factory=list, init=False)
    padding: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.ids = np.empty(self.length, dtype=np.int32)
        self.mask = np.empty(self.length, dtype=np.int8)

    def add(self, doc_id: str, ids: np.ndarray, prefix: int = 0, first_offset: int = 0) -> None:
        """Append one document (its ``prefix`` first tokens are metadata), splitting it across rows as needed.

        ``ids`` may be a later part of the document, beginning ``first_offset`` tokens into it.
        """
        offset, total = 0, len(ids)
        while offset < total:
            take = min(self.length - self.fill, total - offset)
            end = self.fill + take
            self.ids[self.fill:end] = ids[offset:offset + take]
            self.mask[self.fill:end] = 1
            masked = min(max(prefix - offset, 0), take)
            self.mask[self.fill:self.fill + masked] = 0
            self.starts.append(self.fill)
            self.doc_ids.append(doc_id)
            self.offsets.append(first_offset + offset)
            self.fill, offset = end, offset + take
            if self.fill == self.length:
                self._emit()

    def flush(self) -> None:
        """Pad and emit the row being filled, if any (at the end, or where rows must not mix documents)."""
        if self.fill:
            self.padding += self.length - self.fill
            self.ids[self.fill:] = self.pad_id
            self.mask[self.fill:] = 0
            self._emit()

    def _emit(self) -> None:
        self.emit({"input_ids": self.ids.copy(), "loss_mask": self.mask.copy(), "doc_starts": list(self.starts),
                   "doc_ids": list(self.doc_ids), "doc_offsets": list(self.offsets), "tokens": self.fill, "metadata": self.metadata,
                   "context_id": self.context})
        self.fill = 0
        self.starts.clear()
        self.doc_ids.clear()
        self.offsets.clear()


def decompose(total: int, min_length: int, max_length: int, rng: random.Random | None = None) -> tuple[list[int], int]:
    """Piece lengths of a ``total``-token document, dataset-decomposition style, and the tail left over.

    As ``get_binary`` in apple/ml-dataset-decomposition (``scripts/make_dd_buckets.py``): repeatedly cut the
    largest power of two that fits; while that is longer than ``max_length``, the piece length is
    ``max_length`` without ``rng``, and with it drawn from ``min_length .. max_length`` with odds
    proportional to ``max_length / length`` (``randomize=True``), so the overflow of long documents adds the
    same expected number of tokens to every bucket. The tail (under ``min_length`` tokens) is returned
    separately (the reference drops it).
    """
    lengths = []
    length = max_length
    while length >= min_length:
        lengths.append(length)
        length //= 2
    odds = [max_length // length for length in lengths]
    pieces, rest = [], total
    while rest >= min_length:
        piece = 1 << (rest.bit_length() - 1)  # the largest power of two <= rest
        if piece > max_length:
            piece = rng.choices(lengths, weights=odds)[0] if rng is not None else max_length
        pieces.append(piece)
        rest -= piece
    return pieces, rest


def is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0
