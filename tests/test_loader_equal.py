"""Equal work per rank: every rank yields the same number of items per epoch, as DistributedSampler guarantees.

Reference behaviour (PyTorch ``torch/utils/data/distributed.py``, ``DistributedSampler``): with
``drop_last=False`` each of ``R`` replicas gets ``ceil(N / R)`` indices, the list padded by repeating its first
indices, so every index is seen at least once; with ``drop_last=True`` each gets ``floor(N / R)`` and no index
twice. A rank with fewer batches than the others leaves them waiting in a collective: the job hangs.
"""

from __future__ import annotations

from collections import Counter

import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader, DistributedSampler  # noqa: E402

from curate.loader import CurateDataset  # noqa: E402
from tests.feed_output import build_output  # noqa: E402

LAYOUTS = [(2, 0), (2, 2), (4, 0), (4, 2)]  # ranks x dataloader workers


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("plain") / "out")
    return folder, build_output(folder, documents=241, row_group_rows=32, contexts=False)


@pytest.fixture(scope="module")
def contexts(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("contexts") / "out")
    return folder, build_output(folder, documents=241, row_group_rows=32)


def _per_rank(folder: str, world: int, workers: int, **options) -> list[list[dict]]:
    ranks = []
    for rank in range(world):
        dataset = CurateDataset(folder, columns=["id", "context_id"] if options.pop("grouped", False) else ["id"],
                                rank=rank, world_size=world, **options)
        loader = DataLoader(dataset, batch_size=None, num_workers=workers,
                            multiprocessing_context="fork" if workers else None)
        ranks.append(list(loader))
        options["grouped"] = "context_id" in dataset.columns
    return ranks


def _reference_lengths(n: int, readers: int, drop_last: bool) -> list[int]:
    return [len(DistributedSampler(range(n), num_replicas=readers, rank=r, shuffle=False, drop_last=drop_last))
            for r in range(readers)]


@pytest.mark.parametrize("world,workers", LAYOUTS)
@pytest.mark.parametrize("equalize", ["pad", "drop"])
def test_every_rank_gets_what_distributed_sampler_gives(plain, world, workers, equalize):
    folder, truth = plain
    ranks = _per_rank(folder, world, workers, shuffle_buffer=8, seed=3, equalize=equalize)
    readers = world * max(workers, 1)
    per_reader = _reference_lengths(len(truth["ids"]), readers, drop_last=equalize == "drop")
    assert [len(items) for items in ranks] == [per_reader[0] * max(workers, 1)] * world
    seen = Counter(item["id"] for items in ranks for item in items)
    if equalize == "pad":
        assert set(seen) == set(truth["ids"]) and sum(seen.values()) - len(truth["ids"]) < readers
    else:
        assert max(seen.values()) == 1 and len(truth["ids"]) - len(seen) < readers


@pytest.mark.parametrize("world,workers", LAYOUTS)
@pytest.mark.parametrize("equalize", ["pad", "drop"])
def test_equal_counts_with_whole_contexts(contexts, world, workers, equalize):
    folder, truth = contexts
    ranks = _per_rank(folder, world, workers, grouped=True, seed=5, equalize=equalize)
    assert len({len(items) for items in ranks}) == 1, [len(items) for items in ranks]
    seen = Counter(item["id"] for items in ranks for item in items)
    if equalize == "pad":
        assert set(seen) == set(truth["ids"])
    else:
        assert max(seen.values()) == 1
    for items in ranks:  # a context arrives whole and in order (drop may cut a reader's last one short)
        runs: dict[int, list[str]] = {}
        for item in items:
            runs.setdefault(item["context_id"], []).append(item["id"])
        for context, ids in runs.items():
            expected = truth["contexts"][context]
            assert ids[:len(expected)] == expected or expected[:len(ids)] == ids, context


def test_without_equalize_the_readers_differ(contexts):
    folder, _ = contexts
    counts = CurateDataset(folder, equalize=None, seed=5).items_per_reader(4)
    assert len(set(counts)) > 1  # whole contexts make spans uneven: what pad and drop repair
    assert CurateDataset(folder, seed=5).items_per_reader(4) == [max(counts)] * 4
    assert CurateDataset(folder, seed=5, equalize="drop").items_per_reader(4) == [min(counts)] * 4


@pytest.mark.parametrize("equalize", ["pad", "drop"])
def test_resume_with_workers_through_the_padding(contexts, equalize):
    stateful = pytest.importorskip("torchdata.stateful_dataloader")
    folder, _ = contexts

    def loader():
        dataset = CurateDataset(folder, columns=["id"], rank=1, world_size=2, shuffle_buffer=4, seed=9,
                                equalize=equalize)
        return stateful.StatefulDataLoader(dataset, batch_size=5, num_workers=2, multiprocessing_context="fork",
                                           collate_fn=lambda rows: [row["id"] for row in rows])

    uninterrupted = [doc for batch in loader() for doc in batch]
    first = loader()
    consumed = []
    for step, batch in enumerate(first):
        consumed += batch
        if step == len(uninterrupted) // 5 - 2:  # late in the epoch: padding rows included where there are any
            state = first.state_dict()
            break
    second = loader()
    second.load_state_dict(state)
    assert consumed + [doc for batch in second for doc in batch] == uninterrupted
