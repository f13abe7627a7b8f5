"""curate.loader: exact splitting across ranks and workers, whole contexts, seeded shuffling, resuming."""

from __future__ import annotations

from collections import Counter

import pytest

torch = pytest.importorskip("torch")

from torch.utils.data import DataLoader  # noqa: E402

from curate.loader import CurateDataset  # noqa: E402
from tests.feed_output import build_output, train_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def run_output(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("loader") / "out")
    return folder, build_output(folder)


def _ids(items) -> list[str]:
    return [item["id"] for item in items]


@pytest.mark.parametrize("shuffle_buffer", [0, 8])
def test_two_ranks_two_workers_see_every_document_exactly_once(run_output, shuffle_buffer):
    folder, truth = run_output
    seen = Counter()
    per_rank = []
    for rank in range(2):
        dataset = CurateDataset(folder, rank=rank, world_size=2, shuffle_buffer=shuffle_buffer, seed=7, equalize=None)
        ids = _ids(DataLoader(dataset, batch_size=None, num_workers=2, multiprocessing_context="fork"))
        per_rank.append(ids)
        seen.update(ids)
    assert seen == Counter(truth["ids"])  # nothing lost, nothing twice
    assert all(per_rank) and not set(per_rank[0]) & set(per_rank[1])


def _runs(items) -> list[int]:
    """Context ids in the order their runs appear (a context appearing twice is split)."""
    runs = []
    for item in items:
        if not runs or runs[-1] != item["context_id"]:
            runs.append(item["context_id"])
    return runs


@pytest.mark.parametrize("shuffle_buffer", [0, 5])
def test_each_reader_yields_whole_contexts_in_position_order(run_output, shuffle_buffer):
    folder, truth = run_output
    contexts = []
    for rank in range(4):  # 4 readers over row groups of 7 rows: contexts straddle unit boundaries
        dataset = CurateDataset(folder, columns=["id", "context_id", "position"], rank=rank, world_size=4,
                                shuffle_buffer=shuffle_buffer, seed=1, equalize=None)
        items = list(dataset)
        runs = _runs(items)
        assert len(runs) == len(set(runs)), "a context was split"
        for context in runs:
            members = [item for item in items if item["context_id"] == context]
            assert [item["id"] for item in members] == truth["contexts"][context]
            assert [item["position"] for item in members] == list(range(len(members)))
        contexts += runs
    assert sorted(contexts) == sorted(truth["contexts"])


def test_shuffle_is_seeded_and_changes_with_the_epoch(run_output):
    folder, truth = run_output

    def order(seed: int, epoch: int) -> list[str]:
        dataset = CurateDataset(folder, shuffle_buffer=16, seed=seed)
        dataset.set_epoch(epoch)
        return _ids(dataset)

    first = order(3, 0)
    assert first == order(3, 0)
    assert first != order(3, 1) and first != order(4, 0)
    assert sorted(first) == sorted(truth["ids"]) and first != truth["ids"]
    assert _ids(CurateDataset(folder, shuffle_buffer=0)) == truth["ids"]  # unshuffled, one reader: output order
    assert _ids(CurateDataset(folder)) != truth["ids"]  # contexts are shuffled by default


def test_state_dict_resumes_mid_epoch_in_process(run_output):
    folder, _ = run_output
    full = _ids(CurateDataset(folder, shuffle_buffer=10, seed=5))
    dataset = CurateDataset(folder, shuffle_buffer=10, seed=5)
    iterator = iter(dataset)
    head = [next(iterator)["id"] for _ in range(37)]
    state = dataset.state_dict()
    resumed = CurateDataset(folder, shuffle_buffer=10, seed=5)
    resumed.load_state_dict(state)
    assert head + _ids(resumed) == full
    with pytest.raises(ValueError, match="same settings"):
        CurateDataset(folder, shuffle_buffer=11, seed=5).load_state_dict(state)


def test_stateful_dataloader_resumes_with_workers(run_output):
    stateful = pytest.importorskip("torchdata.stateful_dataloader")
    folder, truth = run_output

    def loader(dataset):
        return stateful.StatefulDataLoader(dataset, batch_size=4, num_workers=2, collate_fn=_ids,
                                           multiprocessing_context="fork")

    uninterrupted = [doc for batch in loader(CurateDataset(folder, shuffle_buffer=6, seed=2)) for doc in batch]
    first = loader(CurateDataset(folder, shuffle_buffer=6, seed=2))
    consumed = []
    for step, batch in enumerate(first):
        consumed += batch
        if step == 9:
            state = first.state_dict()
            break
    second = loader(CurateDataset(folder, shuffle_buffer=6, seed=2))
    second.load_state_dict(state)
    rest = [doc for batch in second for doc in batch]
    assert consumed + rest == uninterrupted
    assert set(consumed + rest) == set(truth["ids"])  # each worker padded to the same count: a few repeats


def test_token_ids_from_text(run_output, tmp_path):
    folder, truth = run_output
    from curate.feed.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(train_tokenizer(str(tmp_path / "tok")))
    item = next(iter(CurateDataset(folder, tokenizer=tokenizer)))
    ids = item["input_ids"]
    assert ids.dtype == torch.long and int(ids[-1]) == tokenizer.eos_id
    assert tokenizer.decode(ids[:-1].tolist()) == truth["texts"][item["id"]]


def test_resume_refuses_another_layout(run_output):
    folder, _ = run_output
    dataset = CurateDataset(folder, rank=0, world_size=2)
    iterator = iter(dataset)
    next(iterator)
    state = dataset.state_dict()
    other = CurateDataset(folder, rank=0, world_size=3)
    other.load_state_dict(state)
    with pytest.raises(ValueError, match="same world size"):
        next(iter(other))


def test_packed_rows_as_tensors_by_share_and_bucket(run_output, tmp_path):
    from curate.feed.pack import PackConfig, pack_output
    from curate.feed.tokenizer import load_tokenizer

    folder, _ = run_output
    tokenizer = load_tokenizer(train_tokenizer(str(tmp_path / "tok")))
    fixed = pack_output(folder, PackConfig(seq_len=32, metadata="source", metadata_share=0.5,
                                           output=str(tmp_path / "p")), tokenizer=tokenizer)
    with pytest.raises(ValueError, match="both shares"):
        CurateDataset(str(tmp_path / "p"))  # MeCo trains on the cool-down last: never one shuffled stream by default
    rows = list(CurateDataset(str(tmp_path / "p"), mix_shares=True))
    assert len(rows) == fixed.sequences
    assert all(row["input_ids"].shape == (32,) and row["input_ids"].dtype == torch.long for row in rows)
    assert {"loss_mask", "doc_starts", "doc_offsets", "doc_ids", "tokens"} <= set(rows[0])
    conditioned = CurateDataset(str(tmp_path / "p"), metadata=True)
    cooldown = CurateDataset(str(tmp_path / "p"), metadata=False)
    assert len(conditioned) + len(cooldown) == len(rows) and len(conditioned) and len(cooldown)
    assert any(int(row["loss_mask"].sum()) < row["tokens"] for row in conditioned)  # prefixes carry no loss
    assert all(int(row["loss_mask"].sum()) == row["tokens"] for row in cooldown)  # plain text: all of it

    bucketed = pack_output(folder, PackConfig(seq_len=64, min_bucket=16, buckets=True, output=str(tmp_path / "b")),
                           tokenizer=tokenizer)
    with pytest.raises(ValueError, match="length=16"):
        CurateDataset(str(tmp_path / "b"))
    for length, count in bucketed.sequences_by_length.items():
        assert [row["input_ids"].shape[0] for row in CurateDataset(str(tmp_path / "b"), length=length)] == \
            [length] * count
