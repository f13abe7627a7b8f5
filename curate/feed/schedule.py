"""Dataset decomposition's training side: which bucket each batch comes from, and how big each batch is.

From apple/ml-dataset-decomposition (Pouransari et al., 2024), ``open_lm.patch`` and ``scripts/get_dd_params.py``:

* **Batch size per bucket.** A batch of bucket ``L`` holds ``tokens_per_batch / L`` sequences
  (``--dataset-batch-mult 32 16 8 4 2 1`` for 256 ... 8192), so every optimizer step sees the same
  number of tokens whatever the sequence length.
* **Odds.** Each batch comes from one bucket. Within a cycle, bucket ``i`` is drawn with probability
  proportional to ``odds_i * n_i``, ``n_i`` its batches in the cycle (``get_dd_params`` multiplies the
  curriculum into weights proportional to each bucket's tokens, that is its batches); the "Pow-2"
  curriculum ``odds_i = max_length / L_i`` (32:16:...:1) favours short sequences, so a cycle starts
  mostly short and ends mostly long. ``uniform`` odds draw in proportion to the batches alone.
* **Cycles.** An epoch is cut into ``cycles`` cycles, each with ``1/cycles`` of every bucket's batches
  (``--epochs`` in the reference); a bucket that runs out leaves the draw, the others keep their
  weights (``MyRandomMix(longest=True)``), until every batch of the cycle is used.
* The draw is seeded and the same on every rank (``MyRandomMix`` seeds ``random.Random(args.seed)``) so
  all ranks take a step on the same sequence length.
"""

from __future__ import annotations

import random

POW2 = "pow2"
UNIFORM = "uniform"


def bucket_odds(lengths: list[int], odds: str | dict[int, float] = POW2) -> dict[int, float]:
    """The odds of every bucket: ``pow2`` (max length / length), ``uniform`` (1), or given per length."""
    if odds == POW2:
        return {length: max(lengths) / length for length in lengths}
    if odds == UNIFORM:
        return {length: 1.0 for length in lengths}
    if isinstance(odds, dict):
        missing = sorted(set(lengths) - set(odds))
        if missing or any(value < 0 for value in odds.values()):
            raise ValueError(f"odds must give every bucket {sorted(lengths)} a value >= 0 (missing: {missing})")
        return {length: float(odds[length]) for length in lengths}
    raise ValueError(f"odds must be 'pow2', 'uniform' or a mapping of length to odds, not {odds!r}")


def batch_sizes(lengths: list[int], tokens_per_batch: int) -> dict[int, int]:
    """Sequences per batch for every bucket: the same number of tokens in every batch."""
    bad = [length for length in lengths if tokens_per_batch % length]
    if tokens_per_batch <= 0 or bad:
        raise ValueError(f"tokens_per_batch ({tokens_per_batch}) must be a positive multiple of every bucket "
                         f"length (not of {bad}), e.g. a multiple of the largest, {max(lengths)}")
    return {length: tokens_per_batch // length for length in lengths}


def cycle_batches(batches: dict[int, int], cycles: int) -> list[dict[int, int]]:
    """Every bucket's batches shared out over the cycles as evenly as whole batches allow."""
    if cycles < 1:
        raise ValueError("cycles must be at least 1")
    return [{length: n * (c + 1) // cycles - n * c // cycles for length, n in batches.items()}
            for c in range(cycles)]


def schedule(batches: dict[int, int], odds: dict[int, float], cycles: int, rng: random.Random) -> list[int]:
    """The bucket length of every batch of an epoch, in order."""
    order: list[int] = []
    for counts in cycle_batches(batches, cycles):
        weights = {length: odds[length] * n for length, n in counts.items() if n > 0 and odds[length] > 0}
        remaining = {length: counts[length] for length in weights}
        while remaining:
            live = sorted(remaining)
            pick = rng.choices(live, weights=[weights[length] for length in live])[0]
            order.append(pick)
            remaining[pick] -= 1
            if not remaining[pick]:
                del remaining[pick]
    return order
