"""Shingling, signatures, banding and components, checked against their references."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import xxhash
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.dedup import _kernels
from curate.dedup.components import components_local
from curate.dedup.lsh import band_keys, bucket_edges, optimal_param
from curate.dedup.minhash import Signer, estimated_jaccard
from curate.dedup.shingle import ShingleConfig, normalize, normalize_regex, python_shingles, shingle_hashes
from curate.dedup.verify import pair_similarity
from curate.stages import get_stage_class
from curate.stages.minhash_dedup import MinHashDedup
from tests.minhash_corpus import edit

WORDS = st.text(alphabet="abcdeé漢 ,.!-\n\t", max_size=60)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 2**32 - 1))
def test_xxh32_kernel_equals_xxhash(data: bytes, seed: int) -> None:
    buf = np.frombuffer(b"#" + data + b"#", dtype=np.uint8)
    assert _kernels.xxh32(buf, 1, 1 + len(data), seed) == xxhash.xxh32_intdigest(data, seed)


@settings(max_examples=100, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=6), st.sampled_from(["word", "char"]), st.integers(1, 6))
def test_shingle_hashes_equal_python_reference(texts: list[str], unit: str, n: int) -> None:
    cfg = ShingleConfig(unit=unit, n=n)
    norm = normalize(pa.array(texts), cfg)
    hashes, off = shingle_hashes(norm, cfg)
    for i, text in enumerate(norm.to_pylist()):
        expected = [xxhash.xxh32_intdigest(s) for s in python_shingles(text, cfg)]
        assert hashes[off[i] : off[i + 1]].tolist() == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5), st.sampled_from(["word", "char"]),
       st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_compiled_normaliser_equals_regex_reference(texts, unit, lowercase, punctuation, digits, whitespace) -> None:
    cfg = ShingleConfig(unit=unit, lowercase=lowercase, punctuation=punctuation, digits=digits, whitespace=whitespace)
    assert normalize(pa.array(texts), cfg).to_pylist() == normalize_regex(pa.array(texts), cfg).to_pylist()


def test_normalisation_switches() -> None:
    text = pa.array(["Héllo,  World!\u00a0It's 2024\tnow"])
    assert normalize(text, ShingleConfig()).to_pylist() == ["héllo world it s 0 now"]
    keep_all = ShingleConfig(lowercase=False, punctuation=False, digits=False)
    assert normalize(text, keep_all).to_pylist() == ["Héllo, World! It's 2024 now"]
    chars = ShingleConfig(unit="char", whitespace=False, punctuation=False, lowercase=False, digits=False)
    assert normalize(text, chars).to_pylist() == text.to_pylist()


def test_empty_and_short_documents_shingles() -> None:
    cfg = ShingleConfig(n=5)
    hashes, off = shingle_hashes(normalize(pa.array(["", "   ", "one", "two words", None]), cfg), cfg)
    assert np.diff(off).tolist() == [0, 0, 1, 1, 0]
    assert hashes.tolist() == [xxhash.xxh32_intdigest(b"one"), xxhash.xxh32_intdigest(b"two words")]


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 42), (256, 7)])
@pytest.mark.parametrize("unit", ["word", "char"])
def test_datasketch_scheme_equals_datasketch(num_perm: int, seed: int, unit: str, corpus: list[str]) -> None:
    signer = Signer(scheme="datasketch", num_perm=num_perm, seed=seed, shingles=ShingleConfig(unit=unit, n=5 if unit == "word" else 4))
    sigs = signer.sign(pa.array(corpus)).sig
    norm = normalize(pa.array(corpus), signer.shingles).to_pylist()
    for text, sig in zip(norm, sigs):
        ref = MinHash(num_perm=num_perm, seed=seed, hashfunc=xxhash.xxh32_intdigest)
        ref.update_batch(python_shingles(text, signer.shingles))
        np.testing.assert_array_equal(sig, ref.hashvalues)


def test_datasketch_scheme_interoperates_with_minhash_lsh(corpus: list[str]) -> None:
    signer = Signer(scheme="datasketch", num_perm=128, seed=3)
    sigs = signer.sign(pa.array(corpus)).sig
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, sig in enumerate(sigs):
        lsh.insert(str(i), LeanMinHash(seed=3, hashvalues=sig, scheme="affine32"))
    norm = normalize(pa.array([corpus[0]]), signer.shingles).to_pylist()[0]
    query = MinHash(num_perm=128, seed=3, hashfunc=xxhash.xxh32_intdigest)
    query.update_batch(python_shingles(norm, signer.shingles))
    assert "0" in lsh.query(query)


@pytest.mark.parametrize("scheme", ["fast", "datasketch"])
def test_long_documents_are_signed_in_pieces_without_loss(scheme: str) -> None:
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdefgh"), 5)) for _ in range(40_000)]
    text = " ".join(words)
    whole = Signer(scheme=scheme, shingles=ShingleConfig(max_piece_bytes=len(text) + 1)).sign([text])
    pieces = Signer(scheme=scheme, shingles=ShingleConfig(max_piece_bytes=1 << 14, piece_overlap=512)).sign([text])
    np.testing.assert_array_equal(whole.sig, pieces.sig)


def test_fast_scheme_estimates_jaccard(corpus: list[str]) -> None:
    """One-permutation hashing estimates Jaccard about as well as classic MinHash."""
    rng = np.random.default_rng(1)
    pairs_a, pairs_b = [], []
    for text in corpus[:40]:  # the random documents, not the special ones
        pairs_a.append(text)
        pairs_b.append(edit(text, int(rng.integers(1, 12)), seed=int(rng.integers(1 << 30))))
    exact = pair_similarity(Signer(), pa.array(pairs_a), pa.array(pairs_b), exact=True)
    errors = {}
    for scheme in ("fast", "datasketch"):
        signer = Signer(scheme=scheme, num_perm=128)
        est = estimated_jaccard(signer.sign(pairs_a).sig, signer.sign(pairs_b).sig)
        errors[scheme] = float(np.mean(np.abs(est - exact)))
        assert abs(float(np.mean(est - exact))) < 0.02  # unbiased
    assert errors["fast"] < 0.05 and errors["datasketch"] < 0.05


def test_exact_pair_similarity() -> None:
    left = pa.array(["a b c d e f g h", "x y z w v u", ""])
    right = pa.array(["a b c d e f g i", "x y z w v u", ""])
    np.testing.assert_allclose(pair_similarity(Signer(), left, right, exact=True), [3 / 5, 1.0, 0.0])


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [32, 128, 256])
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.05, 0.95), (0.3, 0.7)])
def test_optimal_param_equals_datasketch(threshold: float, num_perm: int, weights: tuple[float, float]) -> None:
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=weights)
    assert optimal_param(threshold, num_perm, *weights) == (lsh.b, lsh.r)


def test_band_keys_group_equal_bands() -> None:
    sig = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [5, 5, 3, 4]], dtype=np.uint32)
    keys = band_keys(sig, 2, 2)
    assert keys[0, 0] == keys[1, 0] != keys[2, 0]
    assert keys[0, 1] == keys[2, 1] != keys[1, 1]
    assert keys[0, 0] != keys[0, 1]  # the band index is part of the key
    with pytest.raises(ValueError):
        band_keys(sig, 3, 2)


def test_bucket_edges_are_stars_from_the_smallest_node() -> None:
    keys = np.array([5, 5, 5, 7, 7, 9, 5], dtype=np.uint64)
    nodes = np.array([3, 1, 2, 8, 4, 6, 3])
    lo, hi = bucket_edges(keys, nodes)
    assert list(zip(lo.tolist(), hi.tolist())) == [(1, 2), (1, 3), (4, 8)]


def _reference_components(edges: list[tuple[int, int]]) -> dict[int, int]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


def test_components_local_matches_union_find() -> None:
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 500, 400), rng.integers(0, 500, 400)
    keep = src != dst
    nodes, roots = components_local(src[keep], dst[keep])
    assert dict(zip(nodes.tolist(), roots.tolist())) == _reference_components(list(zip(src[keep].tolist(), dst[keep].tolist())))


def test_params_validation_and_registry() -> None:
    assert get_stage_class("minhash_dedup") is MinHashDedup
    with pytest.raises(ValueError):
        MinHashDedup(bands=4)
    with pytest.raises(ValueError):
        MinHashDedup(bands=20, rows=10, num_perm=128)
    with pytest.raises(ValueError):
        MinHashDedup(keep="highest_score")
    with pytest.raises(ValueError):
        MinHashDedup(no_such_field=1)
    assert MinHashDedup(threshold=0.8, num_perm=128, weights=(0.5, 0.5)).band_shape() == (9, 13)
    # the default weights favour recall: datasketch's own choice for them, not curate's function again
    recall_first = MinHashLSH(threshold=0.8, num_perm=128, weights=(0.05, 0.95))
    assert MinHashDedup(threshold=0.8, num_perm=128).band_shape() == (recall_first.b, recall_first.r) == (16, 8)
    with pytest.raises(ValueError):
        MinHashDedup(weights=(0.5, 0.6))
    assert MinHashDedup(bands=16, rows=8).band_shape() == (16, 8)
    for field in MinHashDedup.Params.model_fields.values():
        assert field.description


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    from tests.minhash_corpus import random_docs

    docs = random_docs(40, 120, seed=5)
    return docs + ["Mixed CASE, punctuation; ünïcödé — and digits 12345!", "", "short", "two words"]
