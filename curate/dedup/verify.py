"""Similarity of candidate pairs, recomputed from the two documents' text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate.dedup import _kernels
from curate.dedup.minhash import Signer, estimated_jaccard


def pair_similarity(signer: Signer, left: pa.Array, right: pa.Array, exact: bool, chunk: int = 4096) -> np.ndarray:
    """Jaccard of each (left[i], right[i]) pair of texts.

    ``exact`` compares the distinct shingle-hash sets (32-bit hashes, so equal
    to true shingle Jaccard up to hash collisions, about one in four billion
    per shingle pair); otherwise the signatures' share of equal positions.
    """
    left, right = _plain(left), _plain(right)
    n = len(left)
    if n > chunk:  # bound the working memory of large groups
        return np.concatenate([pair_similarity(signer, left[i:i + chunk], right[i:i + chunk], exact, chunk)
                               for i in range(0, n, chunk)])
    texts = pa.concat_arrays([left, right])
    if not exact:
        sig = signer.sign(texts).sig
        return estimated_jaccard(sig[:n], sig[n:])
    values, off = signer.shingle_sets(texts)
    return _kernels.sorted_jaccard(values, off[: n + 1], values, off[n:])


def _plain(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())
