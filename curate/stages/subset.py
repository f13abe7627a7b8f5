"""The deterministic subset of stages with ``max_documents``: the documents with the smallest keys.

A document's key hashes the run's ``sample_seed`` and its id, so the subset
does not depend on how the input is spread over blocks or workers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import xxhash


def selection_key(doc_id: str, seed: int) -> int:
    """Rank of a document in the deterministic subset (``max_documents``): smallest keys first."""
    return xxhash.xxh64_intdigest(f"{seed}\x00{doc_id}".encode())


def smallest_keys(ids: list[str], seed: int, k: int) -> tuple[np.ndarray, pa.Table]:
    """Positions of the ``k`` smallest keys among ``ids``, and a table of those ids and keys."""
    keys = np.array([selection_key(i, seed) for i in ids], dtype=np.uint64)
    order = np.argsort(keys, kind="stable")[:k]
    return order, pa.table({"id": pa.array([ids[j] for j in order], pa.string()),
                            "key": pa.array(keys[order], pa.uint64())})


def first_rows(rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
    """The ``k`` rows of the whole input with the smallest keys (ties: smallest ids)."""
    rows.sort(key=lambda row: (row["key"], row["id"]))
    return rows[:k]
