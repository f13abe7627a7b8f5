"""Packing for the training methods, checked against what their papers and reference code do.

* In-Context Pretraining (Shi et al., 2024; swj0419/in-context-pretraining): a context's documents are
  trained together in one window and attend to each other; adjacent contexts must be diverse (README).
* MeCo (Gao et al., 2025; princeton-pli/MeCo, README and stage-2 configs): the cool-down is a separate
  random pool of plain text, so every source is in it in proportion to its size.
* Dataset decomposition (Pouransari et al., 2024; apple/ml-dataset-decomposition, ``get_binary`` in
  ``scripts/make_dd_buckets.py``): a piece cut from the overflow of a long document has length ``2^k`` with
  odds proportional to ``2^(max - k)``, so every bucket gets the same expected number of overflow tokens.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.feed.pack import PackConfig, pack_output
from curate.feed.packing import decompose
from curate.feed.tokenizer import load_tokenizer
from curate.manifest import read_manifest, write_manifest
from tests.feed_output import WORDS, build_output, train_tokenizer


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return load_tokenizer(train_tokenizer(str(tmp_path_factory.mktemp("tok"))))


@pytest.fixture(scope="module")
def icp_output(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("icp") / "out")
    truth = build_output(folder, documents=240)
    manifest = read_manifest(folder)
    manifest.config = {"stages": ["normalize", {"icp_reorder": {"context_tokens": 512}}]}
    write_manifest(folder, manifest)
    return folder, truth


def _rows(folder: str) -> list[dict]:
    return pl.read_parquet(os.path.join(folder, "*.parquet")).to_dicts()


def test_icp_rows_follow_contexts_and_ask_for_causal_attention(icp_output, tokenizer, tmp_path):
    folder, truth = icp_output
    manifest = pack_output(folder, PackConfig(output=str(tmp_path / "p")), tokenizer=tokenizer)
    assert manifest.attention == "causal" and manifest.config.align_contexts
    assert manifest.config.seq_len == 512  # the icp_reorder context length
    rows = _rows(str(tmp_path / "p"))
    context_of = {row["id"]: row["context_id"] for row in truth["rows"]}
    placed: dict[int, list[str]] = {}
    for row in rows:
        contexts = {context_of[doc] for doc in row["doc_ids"]}
        assert contexts == {row["context_id"]}  # a row holds one context: its documents may attend to each other
        for doc in row["doc_ids"]:
            if not placed.setdefault(row["context_id"], []) or placed[row["context_id"]][-1] != doc:
                placed[row["context_id"]].append(doc)
    assert placed == truth["contexts"]  # every context whole, its documents in path order


def test_other_output_is_packed_for_per_document_attention(tokenizer, tmp_path):
    folder = str(tmp_path / "plain")
    build_output(folder, documents=60, contexts=False)
    manifest = pack_output(folder, PackConfig(), tokenizer=tokenizer)
    assert manifest.attention == "document" and manifest.config.seq_len == 2048
    assert not manifest.config.align_contexts
    assert "context_id" not in pq.read_schema(os.path.join(folder, "_packed", manifest.shards[0].path)).names


def test_loader_shuffles_packed_contexts_as_whole_units(icp_output, tokenizer, tmp_path):
    torch = pytest.importorskip("torch")  # noqa: F841
    from curate.loader import CurateDataset

    folder, _ = icp_output
    out = str(tmp_path / "p")
    pack_output(folder, PackConfig(output=out, seq_len=64, row_group_rows=8), tokenizer=tokenizer)
    in_order = [row["context_id"] for row in _rows(out)]
    for rank in range(2):
        read = [row["context_id"] for row in CurateDataset(out, rank=rank, world_size=2, seed=4, equalize=None)]
        runs = [c for i, c in enumerate(read) if i == 0 or read[i - 1] != c]
        assert len(runs) == len(set(runs))  # each context's rows arrive together
        assert Counter(read) == Counter(c for c in in_order if c in set(read))  # and all of them
        assert runs != sorted(runs)  # contexts are shuffled by default: neighbours in the path are not neighbours


def _sourced_output(folder: str, seed: int = 0) -> dict[str, int]:
    """Documents in blocks by source (as input files in name order give), sources of different sizes."""
    rng = random.Random(seed)
    sizes = {"alpha": 900, "beta": 600, "gamma": 450, "delta": 300, "omega": 150}
    rows = []
    for source, n in sizes.items():
        rows += [{"id": f"{source}-{i}", "source": source,
                  "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60)))} for i in range(n)]
    os.makedirs(folder, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), os.path.join(folder, "part-00000.parquet"))
    return sizes


def _cooldown_shares(split: dict, unit: str) -> dict[str, tuple[float, float]]:
    """Per source: its share of all documents (or characters) and its share of the cool-down's."""
    by_source = split["by_source"]
    overall = {s: sum(v.get(unit, 0) for v in shares.values()) for s, shares in by_source.items()}
    cooled = {s: shares.get("cooldown", {}).get(unit, 0) for s, shares in by_source.items()}
    return {s: (overall[s] / sum(overall.values()), cooled[s] / sum(cooled.values())) for s in by_source}


def test_cooldown_is_a_random_share_of_every_source(tokenizer, tmp_path):
    folder = str(tmp_path / "sourced")
    sizes = _sourced_output(folder)
    manifest = pack_output(folder, PackConfig(metadata="source", metadata_share=0.9, seq_len=64),
                           tokenizer=tokenizer)
    split = manifest.metadata_split
    cooldown = split["cooldown"]["documents"]
    characters = split["cooldown"]["characters"] / (split["cooldown"]["characters"] + split["conditioned"]["characters"])
    assert abs(characters - 0.1) < 0.01 and abs(cooldown / sum(sizes.values()) - 0.1) < 0.02
    for unit in ("documents", "characters"):
        for source, (overall, in_cooldown) in _cooldown_shares(split, unit).items():
            assert abs(in_cooldown - overall) < 0.03, (unit, source)  # the output's tail would be all 'omega'
    rows = _rows(os.path.join(folder, "_packed"))
    cooled = {doc for row in rows if not row["metadata"] for doc in row["doc_ids"]}
    assert len(cooled) == cooldown
    again = pack_output(folder, PackConfig(metadata="source", seq_len=64, output=str(tmp_path / "again")),
                        tokenizer=tokenizer)
    other = pack_output(folder, PackConfig(metadata="source", seq_len=64, seed=1, output=str(tmp_path / "other")),
                        tokenizer=tokenizer)
    assert again.metadata_split == split  # the same seed draws the same cool-down
    other_cooled = {doc for row in _rows(str(tmp_path / "other")) if not row["metadata"] for doc in row["doc_ids"]}
    assert other.metadata_split["seed"] == 1 and other_cooled != cooled
    assert len(cooled & other_cooled) < 0.3 * len(cooled)  # another seed, another random pool


def test_cooldown_of_whole_contexts_keeps_the_source_mix(tokenizer, tmp_path):
    """Few units, each of one source (as related documents in one context): the draw is balanced by source."""
    folder = str(tmp_path / "contexts")
    sizes = _sourced_output(folder)
    table = pq.read_table(os.path.join(folder, "part-00000.parquet"))
    rng = random.Random(2)
    context, contexts, previous = -1, [], None
    for source in table["source"].to_pylist():
        if source != previous or rng.random() < 0.08:  # contexts of about 12 documents, one source each
            context += 1
        contexts.append(context)
        previous = source
    pq.write_table(table.append_column("context_id", pa.array(contexts, pa.int64())),
                   os.path.join(folder, "part-00000.parquet"))
    manifest = pack_output(folder, PackConfig(metadata="source", seq_len=64), tokenizer=tokenizer)
    assert context + 1 < 300 and manifest.metadata_split["rule"] == "balanced"
    for source, (overall, in_cooldown) in _cooldown_shares(manifest.metadata_split, "characters").items():
        assert abs(in_cooldown - overall) < 0.03, source
    rows = _rows(os.path.join(folder, "_packed"))
    shares: dict[int, set] = {}
    for row in rows:
        shares.setdefault(row["context_id"], set()).add(row["metadata"])
    assert all(len(s) == 1 for s in shares.values()) and sum(not s.pop() for s in shares.values()) > 5
    assert sum(sizes.values()) == manifest.documents


def test_overflow_pieces_follow_the_reference_odds():
    rng = random.Random(0)
    smallest, largest = 16, 256
    lengths = [16, 32, 64, 128, 256]
    draws: Counter = Counter()
    tokens: Counter = Counter()
    for _ in range(400):
        total = largest * 64 + rng.randrange(largest)
        pieces, tail = decompose(total, smallest, largest, rng)
        assert sum(pieces) + tail == total and tail < smallest
        rest = total
        for piece in pieces:
            if rest >= 2 * largest:  # a random draw: the largest fitting power of two exceeds the largest bucket
                draws[piece] += 1
                tokens[piece] += piece
            rest -= piece
    odds = {n: largest // n for n in lengths}  # get_binary: p_k proportional to 2^(max-k)
    n = sum(draws.values())
    for length in lengths:
        assert abs(draws[length] / n - odds[length] / sum(odds.values())) < 0.01, length
        assert abs(tokens[length] / sum(tokens.values()) - 1 / len(lengths)) < 0.03, length  # equal token shares
    assert decompose(largest * 5 + 20, smallest, largest) == ([largest] * 5 + [16], 4)  # without rng: whole pieces


def test_random_overflow_keeps_every_token(icp_output, tokenizer, tmp_path):
    folder, truth = icp_output
    out = str(tmp_path / "b")
    first = pack_output(folder, PackConfig(seq_len=64, min_bucket=8, buckets=True, output=out), tokenizer=tokenizer)
    assert first.attention == "document" and not first.config.align_contexts
    rows = pl.read_parquet(os.path.join(out, "**", "*.parquet")).to_dicts()
    pieces: dict[str, list] = {}
    for row in rows:
        ends = [*row["doc_starts"][1:], row["tokens"]]
        for doc, start, end, offset in zip(row["doc_ids"], row["doc_starts"], ends, row["doc_offsets"]):
            pieces.setdefault(doc, []).append((offset, row["input_ids"][start:end]))
    for doc, found in pieces.items():
        tokens = np.concatenate([ids for _, ids in sorted(found, key=lambda p: p[0])])
        expected = np.append(tokenizer.encode([truth["texts"][doc]])[0], tokenizer.eos_id)
        assert np.array_equal(tokens, expected), doc
    second = pack_output(folder, PackConfig(seq_len=64, min_bucket=8, buckets=True, output=str(tmp_path / "c")),
                         tokenizer=tokenizer)
    assert second.sequences_by_length == first.sequences_by_length  # seeded
