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
import pyarrow.compute as pc

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
        arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.large_string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        ndocs = len(arr)
        lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False) if ndocs else np.zeros(0)
        if not (lengths > self.shingles.max_piece_bytes).any():
            hashes, off = self.hash_shingles(normalize(arr, self.shingles))
            sig = self.finish(self.raw(hashes, off)) if signatures else None
            sets = distinct_sets(hashes, off, None, ndocs) if with_sets else None
            return Signatures(sig=sig, shingle_counts=np.diff(off), sets=sets)

        # Some documents are long: stream them piece by piece in bounded groups
        # and merge each document's MinHash state (and shingles) afterwards.
        raws, counts, owners, hash_parts, off_parts = [], [], [], [], []
        for unit, owner in _units(arr, lengths, self.shingles):
            hashes, off = self.hash_shingles(normalize(unit, self.shingles))
            if signatures:
                raws.append(self.raw(hashes, off))
            counts.append(np.diff(off))
            owners.append(owner)
            if with_sets:
                hash_parts.append(hashes)
                off_parts.append(np.diff(off))
        owner = np.concatenate(owners)
        starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
        sig = self.finish(np.minimum.reduceat(np.concatenate(raws), starts, axis=0)) if signatures else None
        shingle_counts = np.add.reduceat(np.concatenate(counts), starts)
        sets = None
        if with_sets:
            off = np.r_[0, np.cumsum(np.concatenate(off_parts))].astype(np.int64)
            sets = distinct_sets(np.concatenate(hash_parts), off, owner, ndocs)
        return Signatures(sig=sig, shingle_counts=shingle_counts, sets=sets)


def _units(arr: pa.Array, lengths: np.ndarray, cfg: ShingleConfig, budget: int = 16 << 20):
    """Yield (texts, owner rows) in document order, long documents cut into
    pieces, each unit holding at most about ``budget`` bytes of text."""
    limit = cfg.max_piece_bytes
    row, n = 0, len(arr)
    while row < n:
        if lengths[row] > limit:
            pieces, _ = split_long([arr[row].as_py()], cfg)
            per_unit = max(1, budget // limit)
            for i in range(0, len(pieces), per_unit):
                chunk = pieces[i:i + per_unit]
                yield pa.array(chunk, pa.large_string()), np.full(len(chunk), row, dtype=np.int64)
            row += 1
            continue
        stop, size = row, 0
        while stop < n and lengths[stop] <= limit and (size == 0 or size + lengths[stop] <= budget):
            size += lengths[stop]
            stop += 1
        yield arr.slice(row, stop - row), np.arange(row, stop, dtype=np.int64)
        row = stop


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


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise share of equal signature positions."""
    return (sig_a == sig_b).mean(axis=1)
