"""Which documents form the cool-down of metadata conditioning (MeCo): a seeded random share, not the tail.

MeCo (Gao et al., 2025; princeton-pli/MeCo, README and the stage-2 configs) trains the last ~10% of steps
on a *separate, randomly drawn* pool of plain text. Taking the last 10% of output order instead makes the
cool-down whatever happens to come last: one input file, or the end of the in-context-pretraining path.
Here every document draws a uniform number from a hash of ``seed`` and its key (its id, or its context's id
so that a context stays in one share); it is in the conditioned share when that number is below
``share``. Hashing keeps the choice independent of order, batching and length, so each source (and each
length) is in the cool-down in proportion to its size, in expectation, and the same seed gives the same
split on every run.
"""

from __future__ import annotations

import hashlib
from typing import Any

RULE = "blake2b-64(f'{seed}:{key}') / 2**64 < share"


def uniform(seed: int, key: str) -> float:
    """A number in [0, 1) determined by ``seed`` and ``key``."""
    digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def share_key(doc_id: str, context: Any) -> str:
    """What decides a document's share: its in-context-pretraining context where it has one, else its id."""
    return f"context:{context}" if context is not None else f"id:{doc_id}"


def conditioned(seed: int, share: float, doc_id: str, context: Any = None) -> bool:
    """Whether the document gets the metadata prefix (True) or belongs to the plain cool-down (False)."""
    return share >= 1.0 or (share > 0.0 and uniform(seed, share_key(doc_id, context)) < share)
