"""Dataset decomposition's sampler, against apple/ml-dataset-decomposition (``open_lm.patch``, ``get_dd_params.py``).

Reference behaviour, written from that code: batch sizes ``batch_mult = max_length / length`` keep tokens per
step constant; every batch is drawn from one bucket by ``MyRandomMix(longest=True)`` with weights
``curriculum_i * n_i`` (``n_i`` the bucket's batches in the cycle, Pow-2 curriculum 32:16:8:4:2:1 for
256..8192), exhausted buckets leaving the draw; ``--epochs`` cycles each use a ``1/cycles`` share of every
bucket; the draw is seeded so that every rank picks the same bucket.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest

from curate.feed.schedule import batch_sizes, bucket_odds, cycle_batches, schedule

LENGTHS = [256, 512, 1024, 2048, 4096, 8192]


def test_pow2_odds_and_constant_tokens_per_batch():
    assert [bucket_odds(LENGTHS)[n] for n in LENGTHS] == [32, 16, 8, 4, 2, 1]  # the README's Pow-2 curriculum
    sizes = batch_sizes(LENGTHS, 64 * 8192)  # global batch 64 sequences of 8,192 tokens
    assert [sizes[n] for n in LENGTHS] == [64 * m for m in (32, 16, 8, 4, 2, 1)]  # --dataset-batch-mult
    with pytest.raises(ValueError, match="multiple"):
        batch_sizes(LENGTHS, 3000)


def _reference_mix(batches: dict[int, int], curriculum: dict[int, float], rng: random.Random) -> list[int]:
    """``MyRandomMix.random_samples`` with ``longest=True`` over one cycle, weights from ``get_dd_params``."""
    sources = [n for n in LENGTHS if batches[n]]
    left = {n: batches[n] for n in sources}
    probs = [curriculum[n] * batches[n] for n in sources]
    out = []
    while sources:
        cum = np.cumsum(np.array(probs) / np.sum(probs))
        i = int(np.searchsorted(cum, rng.random()))
        out.append(sources[i])
        left[sources[i]] -= 1
        if not left[sources[i]]:
            del sources[i], probs[i]
    return out


def test_draws_follow_the_reference_mix():
    batches = {256: 900, 512: 700, 1024: 500, 2048: 300, 4096: 150, 8192: 60}
    odds = bucket_odds(LENGTHS)
    ours, reference = Counter(), Counter()
    positions_ours, positions_ref = np.zeros(6), np.zeros(6)
    for seed in range(20):
        order = schedule(batches, odds, 1, random.Random(seed))
        ref = _reference_mix(batches, odds, random.Random(1000 + seed))
        assert Counter(order) == Counter(ref) == Counter(batches)  # every batch exactly once a cycle
        head = len(order) // 4  # early in the cycle, while every bucket is still in the draw
        ours.update(order[:head])
        reference.update(ref[:head])
        for sequence, positions in ((order, positions_ours), (ref, positions_ref)):
            quarters = np.array_split(np.array(sequence), 4)
            positions[:4] += [q.mean() for q in quarters]
    expected = {n: odds[n] * batches[n] for n in LENGTHS}
    total = sum(expected.values())
    for n in LENGTHS:
        assert abs(ours[n] / sum(ours.values()) - expected[n] / total) < 0.02, n
        assert abs(ours[n] / sum(ours.values()) - reference[n] / sum(reference.values())) < 0.03, n
    assert list(positions_ours[:4]) == sorted(positions_ours[:4])  # short first, long last: the curriculum
    assert np.allclose(positions_ours[:4], positions_ref[:4], rtol=0.1)


def test_cycles_share_out_every_bucket():
    batches = {256: 10, 512: 7, 1024: 3}
    parts = cycle_batches(batches, 4)
    assert [sum(part[n] for part in parts) for n in batches] == list(batches.values())
    assert all(max(p[n] for p in parts) - min(p[n] for p in parts) <= 1 for n in batches)
    order = schedule(batches, bucket_odds(list(batches)), 4, random.Random(0))
    ends = np.cumsum([sum(part.values()) for part in parts])
    starts = [0, *ends[:-1]]
    for part, start, end in zip(parts, starts, ends):  # each cycle uses exactly its share
        assert Counter(order[start:end]) == Counter({n: k for n, k in part.items() if k})
    assert schedule(batches, bucket_odds(list(batches)), 4, random.Random(0)) == order  # seeded


@pytest.fixture(scope="module")
def bucketed(tmp_path_factory):
    pytest.importorskip("torch")
    from curate.feed.pack import PackConfig, pack_output
    from curate.feed.tokenizer import load_tokenizer
    from tests.feed_output import build_output, train_tokenizer

    root = tmp_path_factory.mktemp("dd")
    folder = str(root / "out")
    build_output(folder, documents=400, contexts=False)
    tokenizer = load_tokenizer(train_tokenizer(str(root / "tok")))
    manifest = pack_output(folder, PackConfig(seq_len=64, min_bucket=8, buckets=True, row_group_rows=16),
                           tokenizer=tokenizer)
    return folder + "/_packed", manifest


def _run(folder: str, rank: int, world: int, workers: int, **options) -> list[dict]:
    from torch.utils.data import DataLoader

    from curate.bucket_loader import BucketBatches

    sampler = BucketBatches(folder, tokens_per_batch=128, rank=rank, world_size=world, seed=3, **options)
    return list(DataLoader(sampler, batch_size=None, num_workers=workers,
                           multiprocessing_context="fork" if workers else None))


@pytest.mark.parametrize("world,workers", [(2, 0), (2, 2)])
def test_every_rank_steps_on_the_same_lengths_with_the_same_tokens(bucketed, world, workers):
    folder, manifest = bucketed
    ranks = [_run(folder, rank, world, workers, cycles=2) for rank in range(world)]
    lengths = [[batch["length"] for batch in batches] for batches in ranks]
    assert all(sequence == lengths[0] for sequence in lengths) and len(set(lengths[0])) > 2
    for batches in ranks:
        for batch in batches:
            assert batch["input_ids"].shape == (128 // batch["length"], batch["length"])  # 128 tokens a step
    used = Counter(tuple(ids) for batches in ranks for batch in batches for ids in batch["doc_ids"])
    assert sum(used.values()) <= sum(manifest.sequences_by_length.values()) + world * max(workers, 1) * 4


def test_resume_mid_epoch(bucketed):
    stateful = pytest.importorskip("torchdata.stateful_dataloader")
    from curate.bucket_loader import BucketBatches

    folder, _ = bucketed

    def loader():
        sampler = BucketBatches(folder, tokens_per_batch=128, seed=5, cycles=2, rank=0, world_size=2)
        return stateful.StatefulDataLoader(sampler, batch_size=None, num_workers=2, multiprocessing_context="fork")

    def key(batch):
        return batch["length"], tuple(map(tuple, batch["doc_ids"]))

    whole = [key(batch) for batch in loader()]
    first = loader()
    head = []
    for step, batch in enumerate(first):
        head.append(key(batch))
        if step == len(whole) // 2:
            state = first.state_dict()
            break
    second = loader()
    second.load_state_dict(state)
    assert head + [key(batch) for batch in second] == whole
