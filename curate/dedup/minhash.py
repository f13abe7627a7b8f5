"""MinHash signature schemes behind one interface.

``datasketch``
    The reference. Shingles are hashed with XXH32 of their UTF-8 bytes and
    permuted with datasketch's own ``affine32`` permutations (drawn from the
    same seed by datasketch itself), so each signature equals
    ``datasketch.MinHash(num_perm, seed, hashfunc=xxhash.xxh32_intdigest)``
    updated with the same shingles and can be used with ``LeanMinHash`` and
    ``MinHashLSH``. The per-shingle, per-permutation work runs compiled.

``fast`` (default)
    One-permutation hashing with optimal densification: each shingle is hashed
    once, falls into one of ``num_perm`` bins and only competes for that bin's
    minimum, so the cost no longer grows with ``num_perm``. Word shingles are
    hashed by chaining per-word hashes. Jaccard estimates are unbiased like the
    reference's; the signatures are not datasketch-compatible.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pyarrow as pa

from curate.dedup import _kernels
from curate.dedup.shingle import ShingleConfig, normalize, shingle_hashes, split_long

Scheme = Literal["fast", "datasketch"]


@dataclass(frozen=True)
class Signer:
    """Turns text into MinHash signatures (uint32, ``num_perm`` per document)."""

    scheme: Scheme = "fast"
    num_perm: int = 128
    seed: int = 1
    shingles: ShingleConfig = ShingleConfig()

    @cached_property
    def permutations(self) -> tuple[np.ndarray, np.ndarray]:
        """datasketch's ``affine32`` permutation parameters for this seed."""
        from datasketch import MinHash

        a, b = MinHash(num_perm=self.num_perm, seed=self.seed).permutations
        return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)

    def raw(self, hashes: np.ndarray, doc_off: np.ndarray) -> np.ndarray:
        """Min-combinable per-document state (pieces of one document merge with ``np.minimum``)."""
        if self.scheme == "datasketch":
            a, b = self.permutations
            return _kernels.affine32_signatures(hashes, doc_off, a, b)
        return _kernels.oph_bins(hashes, doc_off, self.num_perm, self.seed)

    def finish(self, raw: np.ndarray) -> np.ndarray:
        """Signatures from merged state."""
        if self.scheme == "datasketch":
            return raw
        return _kernels.densify(raw, self.seed)

    def hash_shingles(self, norm: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Shingle hashes of normalised documents (and per-document offsets)."""
        return shingle_hashes(norm, self.shingles, seed=0 if self.scheme == "datasketch" else self.seed,
                              chained=self.scheme == "fast")

    def shingle_sets(self, texts: pa.Array | pa.ChunkedArray | list) -> tuple[np.ndarray, np.ndarray]:
        """Sorted distinct shingle hashes of each text (flat values, offsets), without MinHash."""
        return self.sign(texts, with_sets=True, signatures=False).sets

    def sign(self, texts: pa.Array | pa.ChunkedArray | list, with_sets: bool = False,
             signatures: bool = True) -> Signatures:
        """Signatures of raw texts: normalise, shingle, hash, MinHash.

        With ``with_sets`` also returns each document's sorted distinct shingle
        hashes (for exact Jaccard verification).
        """
        if isinstance(texts, (pa.Array, pa.ChunkedArray)):
            texts_list = None
            arr = texts
            long = bool(len(texts)) and _max_len(texts) > self.shingles.max_piece_bytes
        else:
            arr = pa.array(texts, pa.large_string())
            long = any(len(t or "") > self.shingles.max_piece_bytes for t in texts)
        ndocs = len(arr)
        if long:
            texts_list = arr.to_pylist()
            pieces, owner = split_long(texts_list, self.shingles)
            arr = pa.array(pieces, pa.large_string())
        else:
            owner = None
        norm = normalize(arr, self.shingles)
        hashes, off = self.hash_shingles(norm)
        counts = np.diff(off)
        sig = None
        if signatures:
            raw = self.raw(hashes, off)
            if owner is not None:
                starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
                raw = np.minimum.reduceat(raw, starts, axis=0)
            sig = self.finish(raw)
        if owner is not None:
            counts = np.add.reduceat(counts, np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]))
        sets = distinct_sets(hashes, off, owner, ndocs) if with_sets else None
        return Signatures(sig=sig, shingle_counts=counts, sets=sets)


@dataclass
class Signatures:
    sig: np.ndarray | None  # (ndocs, num_perm) uint32
    shingle_counts: np.ndarray  # shingles per document (0: empty, never a candidate)
    sets: tuple[np.ndarray, np.ndarray] | None = None  # (values, offsets) of distinct hashes


def distinct_sets(hashes: np.ndarray, off: np.ndarray, owner: np.ndarray | None, ndocs: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct shingle hashes per document, as flat values and offsets.

    Pieces of one document (``owner``) are consecutive, so their hashes are
    too: merging them is just using the document's first and last offsets.
    """
    if owner is not None:
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        off = np.r_[off[starts], off[-1]]
    values, offsets = _kernels.distinct_per_doc(hashes, np.ascontiguousarray(off, dtype=np.int64))
    assert len(offsets) == ndocs + 1
    return values, offsets


def _max_len(arr: pa.Array | pa.ChunkedArray) -> int:
    import pyarrow.compute as pc

    m = pc.max(pc.binary_length(arr)).as_py()
    return int(m or 0)


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise share of equal signature positions."""
    return (sig_a == sig_b).mean(axis=1)
