"""The four stage kinds through the runner, part-level resume, and workers killed mid-stage."""

import os
import signal
import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.runner import Runner, StageError
from curate.stages.exact_dedup import ExactDedup
from curate.stages.normalize import Normalize
from tests.conftest import write_jsonl
from tests.kinds import FakeModel, Killable, LongestPerSource, RepeatedIds, Reverse, Shout, Split

pytestmark = pytest.mark.slow


@pytest.fixture
def corpus(tmp_path):
    """Three input files, 30 documents, two sentences each."""
    paths = []
    for f in range(3):
        records = [{"id": f"f{f}-{i:02d}", "text": f"first of {f}-{i}. second of {f}-{i}.", "source": f"s{i % 2}"}
                   for i in range(10)]
        paths.append(str(write_jsonl(tmp_path / f"in{f}.jsonl", records)))
    return paths


def _rows(folder) -> list[dict]:
    shards = sorted(folder.glob("*.parquet"))
    return pa.concat_tables(pq.read_table(p) for p in shards).to_pylist() if shards else []


def test_expand_places_new_rows_after_their_parents(ray_session, tmp_path, corpus):
    out = tmp_path / "out"
    manifest = Runner(corpus, str(out), [Shout(), Split(drop_parents=True), ExactDedup()], part_rows=7).run()
    split = manifest.stages[2]
    assert (split.kind, split.documents_in, split.created, split.dropped) == (
        "expand", 30, 60, {"split_into_sentences": 30})
    assert split.documents_out == 60 and split.stats == {"sentences": 60}
    docs = manifest.documents
    assert (docs.input, docs.created, docs.output, docs.dropped) == (30, 60, 60, 30) and docs.balanced
    rows = _rows(out)
    assert [r["id"] for r in rows[:4]] == ["f0-00#s0", "f0-00#s1", "f0-01#s0", "f0-01#s1"]
    assert rows[0]["parent_id"] == "f0-00" and rows[0]["created_by"] == "split"
    assert rows[1]["text"] == "SECOND OF 0-0"  # created from the text the earlier stage changed

    again = Runner(corpus, str(out), [Shout(), Split(drop_parents=True), ExactDedup()], part_rows=7).run()
    assert all(s.resumed for s in again.stages) and _rows(out) == rows


def test_expand_keeps_parents_unless_dropped(ray_session, tmp_path, corpus):
    out = tmp_path / "out"
    manifest = Runner(corpus[:1], str(out), [Split()]).run()
    assert manifest.documents.output == 30 and manifest.documents.created == 20
    assert [r["id"] for r in _rows(out)[:4]] == ["f0-00", "f0-00#s0", "f0-00#s1", "f0-01"]


def test_expand_that_repeats_an_id_is_an_error(ray_session, tmp_path, corpus):
    with pytest.raises(StageError, match="repeated_ids.*'same' twice"):
        Runner(corpus, str(tmp_path / "out"), [RepeatedIds()]).run()


def test_order_stage_sets_the_output_order_and_groups_stay_in_one_shard(ray_session, tmp_path, corpus):
    from curate.io.writer import WriterConfig

    out = tmp_path / "out"
    manifest = Runner(corpus, str(out), [Normalize(), Reverse(), Shout()], part_rows=4,
                      writer=WriterConfig(rows_per_shard=4)).run()
    rows = _rows(out)
    assert [r["id"] for r in rows] == [f"f{f}-{i:02d}" for f in (2, 1, 0) for i in range(9, -1, -1)]
    assert rows[0]["text"].isupper()  # a map stage after the order stage keeps the new order
    assert manifest.output.group_column == "context_id" and manifest.stages[2].stats == {"contexts": 10}
    shards = [pq.read_table(out / s.path).column("context_id").to_pylist() for s in manifest.output.shards]
    for earlier, later in zip(shards, shards[1:]):
        assert earlier[-1] != later[0]


def test_global_stage_example(ray_session, tmp_path, corpus):
    manifest = Runner(corpus, str(tmp_path / "out"), [LongestPerSource()]).run()
    assert manifest.documents.output == 2 and manifest.stages[1].stats == {"sources": 2}


def test_model_stage_resumes_with_the_parts_it_finished(ray_session, tmp_path, corpus):
    flag = tmp_path / "crash"
    flag.write_text("")
    out = tmp_path / "out"
    crashing = [Normalize(), FakeModel(fail_on="f2-05", fail_flag=str(flag), concurrency=1)]
    with pytest.raises(StageError, match="fake_model.*model crashed"):
        Runner(corpus, str(out), crashing, part_rows=4).run()
    finished = list((out / "_stages" / "02-fake_model" / "_units").glob("*.json"))
    assert finished  # one actor works through the parts in order: those before f2-05 are done

    flag.unlink()
    manifest = Runner(corpus, str(out), crashing, part_rows=4).run()
    model = manifest.stages[2]
    assert model.parts == 9 and model.parts_resumed == len(finished) > 0
    assert manifest.stages[1].resumed and not model.resumed
    assert model.stats == {"scored": 30}

    clean = Runner(corpus, str(tmp_path / "clean"), [Normalize(), FakeModel(concurrency=1)], part_rows=4).run()
    strip = [{k: v for k, v in r.items() if k != "model_pid"} for r in _rows(out)]
    assert strip == [{k: v for k, v in r.items() if k != "model_pid"} for r in _rows(tmp_path / "clean")]
    assert clean.documents == manifest.documents


def _kill_when_flagged(flag, deadline: float) -> None:
    while time.time() < deadline:
        if flag.exists():
            time.sleep(0.2)
            os.kill(int(flag.read_text()), signal.SIGKILL)
            return
        time.sleep(0.05)


@pytest.mark.parametrize("make_stage", [
    lambda flag: Killable(victim="f1-04", kill_flag=str(flag)),
    lambda flag: FakeModel(fail_on="f1-04", kill_flag=str(flag), concurrency=1),
], ids=["map_task", "model_actor"])
def test_worker_killed_mid_stage_gives_the_same_output(ray_session, tmp_path, corpus, make_stage):
    flag = tmp_path / "pid"
    killer = threading.Thread(target=_kill_when_flagged, args=(flag, time.time() + 120))
    killer.start()
    out = tmp_path / "out"
    manifest = Runner(corpus, str(out), [Normalize(), make_stage(flag), Shout()], part_rows=4).run()
    killer.join()
    assert flag.exists()  # the worker really was killed
    undisturbed = Runner(corpus, str(tmp_path / "calm"), [Normalize(), Shout()], part_rows=4).run()
    strip = [{k: v for k, v in r.items() if k != "model_pid"} for r in _rows(out)]
    assert strip == _rows(tmp_path / "calm")
    assert manifest.documents == undisturbed.documents


def test_model_step_splits_a_big_part_between_workers(ray_session, tmp_path, monkeypatch):
    """One input file makes one part; a 2-worker model step cuts it in pieces so both workers share it."""
    import curate.engine.mapping as mapping

    records = [{"id": f"d{i:03d}", "text": f"document number {i}.", "source": "one"} for i in range(300)]
    corpus = [str(write_jsonl(tmp_path / "one.jsonl", records))]
    manifest = Runner(corpus, str(tmp_path / "clean"), [Normalize(), FakeModel()]).run()
    model = manifest.stages[2]
    assert model.parts == 5  # 300 rows, 2 workers, 4 pieces each at most, none under 64 rows
    rows = _rows(tmp_path / "clean")
    assert len({r["model_pid"] for r in rows}) == 2
    assert [r["id"] for r in rows] == [r["id"] for r in records] and model.stats == {"scored": 300}

    # A crash, then a resume that cuts the step another way: the changed ranges run again, nothing doubles.
    flag = tmp_path / "crash"
    flag.write_text("")
    out = tmp_path / "out"
    with pytest.raises(StageError, match="model crashed"):
        Runner(corpus, str(out), [Normalize(), FakeModel(fail_on="d299", fail_flag=str(flag))]).run()
    flag.unlink()
    monkeypatch.setattr(mapping, "UNITS_PER_WORKER", 1)
    again = Runner(corpus, str(out), [Normalize(), FakeModel(fail_on="d299", fail_flag=str(flag))]).run()
    assert (again.stages[2].parts, again.stages[2].parts_resumed) == (2, 0)
    assert again.stages[2].stats == {"scored": 300} and again.documents == manifest.documents
    strip = [{k: v for k, v in r.items() if k != "model_pid"} for r in _rows(out)]
    assert strip == [{k: v for k, v in r.items() if k != "model_pid"} for r in rows]
