"""Which documents form the cool-down of metadata conditioning (MeCo): a seeded random share, not the tail.

MeCo (Gao et al., 2025; princeton-pli/MeCo, README and the stage-2 configs) trains the last ~10% of steps
on a *separate, randomly drawn* pool of plain text. Taking the last 10% of output order instead makes the
cool-down whatever happens to come last: one input file, or the end of the in-context-pretraining path.

The unit of the draw is a document, or a whole in-context-pretraining context (a context stays in one
share). Units are taken in a seeded random order (a hash of ``seed`` and the unit's key), so the choice is
independent of output order, batching and length, and the same seed gives the same split on every run:

* ``balanced`` (up to ``BALANCE_MAX`` documents): going down that order, a unit joins the cool-down when it
  brings the cool-down's characters per source closer to ``1 - share`` of each source's characters (a
  greedy balanced sample; characters, since the cool-down is a share of training tokens). With few units (a small corpus, or a few hundred contexts of related documents
  that share a source) an independent draw would give some sources twice their share and others none;
* ``hash`` (larger outputs, where an independent draw is already within a fraction of a point): a unit is
  in the cool-down when its hash, as a number in [0, 1), is at least ``share``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np

BALANCE_MAX = 1_000_000
RULES = {"balanced": "units in blake2b-64(f'{seed}:{key}') order join the cool-down when that brings its "
                     "characters per source closer to (1 - share) of each source's",
         "hash": "blake2b-64(f'{seed}:{key}') / 2**64 >= share"}


def uniform(seed: int, key: str) -> float:
    """A number in [0, 1) determined by ``seed`` and ``key``."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def share_key(doc_id: str, context: Any) -> str:
    """What decides a document's share: its in-context-pretraining context where it has one, else its id."""
    return f"context:{context}" if context is not None else f"id:{doc_id}"


def hashed_cooldown(seed: int, share: float, key: str) -> bool:
    """The ``hash`` rule: whether the unit ``key`` is in the cool-down."""
    return share <= 0.0 or (share < 1.0 and uniform(seed, key) >= share)


def balanced_cooldown(units: dict[str, dict[str, int]], share: float, seed: int) -> set[str]:
    """The ``balanced`` rule: the keys of the cool-down, from each unit's characters per source."""
    if share >= 1.0 or not units:
        return set()
    if share <= 0.0:
        return set(units)
    sources = sorted({source for counts in units.values() for source in counts})
    column = {source: i for i, source in enumerate(sources)}
    totals = np.zeros(len(sources))
    for counts in units.values():
        for source, chars in counts.items():
            totals[column[source]] += chars
    gap = (1.0 - share) * totals  # characters per source the cool-down still lacks
    chosen = set()
    for key in sorted(units, key=lambda key: uniform(seed, key)):
        index = np.fromiter((column[s] for s in units[key]), dtype=np.int64)
        chars = np.fromiter(units[key].values(), dtype=np.float64)
        if 2.0 * float(chars @ gap[index]) > float(chars @ chars):  # the distance to the target shrinks
            gap[index] -= chars
            chosen.add(key)
    return chosen


def unit_characters(rows: Iterable[tuple[str, Any, str | None, int]]) -> dict[str, dict[str, int]]:
    """Characters per source of every unit, from ``(id, context_id, source, characters)`` rows."""
    units: dict[str, dict[str, int]] = {}
    for doc_id, context, source, chars in rows:
        counts = units.setdefault(share_key(doc_id, context), {})
        counts[source or ""] = counts.get(source or "", 0) + max(int(chars), 1)
    return units
