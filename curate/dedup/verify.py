"""Similarity of candidate pairs, recomputed from the two documents' text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate.dedup import _kernels
from curate.dedup.minhash import Signer, distinct_sets, estimated_jaccard


def pair_similarity(signer: Signer, left: pa.Array, right: pa.Array, exact: bool) -> np.ndarray:
    """Jaccard of each (left[i], right[i]) pair of texts.

    ``exact`` compares the distinct shingle-hash sets (32-bit hashes, so equal
    to true shingle Jaccard up to hash collisions, about one in four billion
    per shingle pair); otherwise the signatures' share of equal positions.
    """
    n = len(left)
    texts = pa.concat_arrays([_plain(left), _plain(right)])
    if not exact:
        sig = signer.sign(texts).sig
        return estimated_jaccard(sig[:n], sig[n:])
    result = signer.sign(texts, with_sets=True)
    values, off = result.sets
    return _kernels.sorted_jaccard(values, off[: n + 1], values, off[n:])


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())
