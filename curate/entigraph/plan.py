"""What to generate for a document: seeded pair/triple samples, its budget share, row ids.

Everything here depends only on the document (its id, its entities, its
length) and the run's settings, never on which worker or batch handles it, so
a re-run or a resumed run plans, and names, exactly the same rows.
"""

from __future__ import annotations

import json
import random
from itertools import combinations

import xxhash

KINDS = ("summary", "pair", "triple")


def sample_tuples(n_entities: int, size: int, limit: int, seed: int, doc_id: str) -> list[tuple[int, ...]]:
    """Up to ``limit`` index tuples ``i < j (< k)`` of ``size`` entities, shuffled by ``seed`` and the document id.

    Every tuple is equally likely to be chosen; the same inputs give the same
    tuples in the same order.
    """
    if limit <= 0 or n_entities < size:
        return []
    rng = random.Random(xxhash.xxh64_intdigest(f"{seed}\x00{size}\x00{doc_id}".encode()))
    everything = list(combinations(range(n_entities), size))
    if len(everything) > limit:
        return rng.sample(everything, limit)
    rng.shuffle(everything)
    return everything


def in_order(n_entities: int, size: int, limit: int) -> list[tuple[int, ...]]:
    """The first ``limit`` index tuples ``i < j (< k)`` in order (the reference's pair order)."""
    if limit <= 0 or n_entities < size:
        return []
    return list(combinations(range(n_entities), size))[:limit]


def document_title(text: str | None, meta: str | None, max_chars: int = 200) -> str | None:
    """A document's title: the ``title`` field of its meta (a JSON object), else its first non-empty line."""
    if meta:
        try:
            value = json.loads(meta)
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get("title"), str) and value["title"].strip():
            return " ".join(value["title"].split())[:max_chars]
    line = next((line for line in (text or "").split("\n") if line.strip()), "")
    return " ".join(line.split())[:max_chars] or None


def budget_share(budget: int | None, doc_words: int, total_words: int) -> int | None:
    """A document's part of the run's synthetic-token budget, proportional to its length in words.

    Shares are floors, so they never add up to more than ``budget``; ``None``
    means no budget.
    """
    if budget is None:
        return None
    if total_words <= 0:
        return 0
    return budget * max(0, doc_words) // total_words


def word_count(text: str | None) -> int:
    return len(text.split()) if text else 0


def row_id(source_id: str, kind: str, entities: tuple[str, ...], model: str) -> str:
    """A synthetic row's id: the source id, the kind and a hash of the model and the entity tuple."""
    key = "\x1f".join((model, kind, *entities)).encode()
    return f"{source_id}#entigraph-{kind}-{xxhash.xxh3_64_hexdigest(key)}"
