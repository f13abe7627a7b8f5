"""The runner through the Python API: accounting, resume, contract checks."""

import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curate.manifest import read_manifest
from curate.runner import Runner, StageError
from curate.stage import DROP_REASON, ORDER, GlobalResult, GlobalStage, MapStage, mark_drops
from curate.stages.exact_dedup import ExactDedup
from curate.stages.length_filter import LengthFilter
from curate.stages.normalize import Normalize
from tests.conftest import write_jsonl


class Explode(MapStage):
    """Fails on purpose, to stand for a crash in the middle of a run."""

    name = "explode"

    def process_batch(self, batch: pa.Table) -> pa.Table:
        raise RuntimeError("boom")


class Shrink(MapStage):
    """Breaks the contract by removing rows."""

    name = "shrink"

    def process_batch(self, batch: pa.Table) -> pa.Table:
        return batch.slice(1)


class DropEven(MapStage):
    name = "drop_even"

    def process_batch(self, batch: pa.Table) -> pa.Table:
        numbers = [int(t.split()[-1]) for t in batch.column("text").to_pylist()]
        return mark_drops(batch, [n % 2 == 0 for n in numbers], "even")


@pytest.fixture
def corpus(tmp_path):
    records = [{"id": f"r{i:03d}", "text": f"document number {i}"} for i in range(40)]
    records += [{"id": "dup", "text": "document number 3"}, "{oops", {"id": "r000", "text": "id reused 1"}]
    return str(write_jsonl(tmp_path / "in.jsonl", records))


def test_accounting_and_resume(ray_session, tmp_path, corpus):
    out = str(tmp_path / "out")
    with pytest.raises(StageError, match="explode.*boom"):
        Runner([corpus], out, [Normalize(), Explode()]).run()

    manifest = Runner([corpus], out, [Normalize(), DropEven(), ExactDedup()]).run()
    stages = manifest["stages"]
    assert [s["name"] for s in stages] == ["read", "normalize", "drop_even", "exact_dedup"]
    assert [s["resumed"] for s in stages] == [True, True, False, False]
    docs = manifest["documents"]
    assert docs["input"] == 43 and docs["input"] == docs["output"] + docs["dropped"]
    assert manifest["documents"]["dropped_by_reason"] == {
        "duplicate_id": 1, "even": 20, "exact_duplicate": 1, "malformed_json": 1}
    # "dup" has the same text as r003; the smaller id is kept
    dropped = pa.concat_tables(pq.read_table(p) for p in (tmp_path / "out" / "_dropped").glob("*.parquet"))
    row = [r for r in dropped.to_pylist() if r["reason"] == "exact_duplicate"][0]
    assert (row["id"], row["duplicate_of"]) == ("r003", "dup")

    again = Runner([corpus], out, [Normalize(), DropEven(), ExactDedup()]).run()
    assert all(s["resumed"] for s in again["stages"])
    assert again["documents"] == manifest["documents"]
    assert read_manifest(out)["config_hash"] == again["config_hash"]

    # changing a parameter recomputes that stage and the ones after it only
    changed = Runner([corpus], out, [Normalize(), DropEven(), ExactDedup(lowercase=False)]).run()
    assert [s["resumed"] for s in changed["stages"]] == [True, True, True, False]
    forced = Runner([corpus], out, [Normalize()], force=True).run()
    assert not any(s["resumed"] for s in forced["stages"])
    assert sorted(p.name for p in (tmp_path / "out" / "_stages").iterdir()) == ["00-read", "01-normalize"]


def test_stage_that_removes_rows_is_refused(ray_session, tmp_path, corpus):
    with pytest.raises(StageError, match="stages mark drops"):
        Runner([corpus], str(tmp_path / "out"), [Shrink()]).run()


def test_empty_input_after_reading(ray_session, tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ["{nope", {"text": ""}])
    manifest = Runner([str(path)], str(tmp_path / "out"), [LengthFilter(min_words=1), ExactDedup()]).run()
    assert manifest["documents"] == {
        "input": 2, "output": 0, "dropped": 2, "dropped_by_stage": {"00-read": 2},
        "dropped_by_reason": {"empty_text": 1, "malformed_json": 1}}
    assert json.loads((tmp_path / "out" / "_manifest.json").read_text())["output"]["shards"] == []


def _multiple_of_seven(batch: pa.Table) -> pa.Table:
    numbers = pa.array([int(t.split()[-1]) % 7 == 0 for t in batch.column("text").to_pylist()])
    return batch.append_column("multiple_of_7", numbers)


class SevensAsMarks(GlobalStage):
    """Annotates every row and drops multiples of seven, through marks."""

    name = "sevens_marks"

    def run(self, dataset):
        def marks(batch: pa.Table) -> pa.Table:
            batch = _multiple_of_seven(batch)
            reason = pc.if_else(batch.column("multiple_of_7"), "seven", pa.scalar(None, pa.string()))
            return pa.table({ORDER: batch.column(ORDER), "multiple_of_7": batch.column("multiple_of_7"), DROP_REASON: reason})
        return GlobalResult(stats={}, marks=dataset.map_batches(marks, batch_format="pyarrow"))


class SevensAsRows(GlobalStage):
    """The same decision, returning every row shuffled."""

    name = "sevens_rows"

    def run(self, dataset):
        def mark(batch: pa.Table) -> pa.Table:
            batch = _multiple_of_seven(batch)
            return mark_drops(batch, batch.column("multiple_of_7"), "seven")
        return GlobalResult(stats={}, dataset=dataset.map_batches(mark, batch_format="pyarrow").random_shuffle(seed=1))


def _output(out) -> list[dict]:
    shards = sorted((out).glob("*.parquet"))
    return pa.concat_tables(pq.read_table(p) for p in shards).to_pylist()


def test_global_stage_marks_and_rows_agree_across_part_sizes(ray_session, tmp_path, corpus):
    runs = {
        "marks_small_parts": (SevensAsMarks(), 4),
        "marks": (SevensAsMarks(), 20_000),
        "rows_small_parts": (SevensAsRows(), 4),
    }
    outputs = {}
    for name, (stage, part_rows) in runs.items():
        out = tmp_path / name
        manifest = Runner([corpus], str(out), [stage, ExactDedup()], part_rows=part_rows).run()
        assert manifest["stages"][1]["dropped"] == {"seven": 6}
        outputs[name] = _output(out)
    assert outputs["marks_small_parts"] == outputs["marks"] == outputs["rows_small_parts"]
    assert [r["id"] for r in outputs["marks"]][:3] == ["r001", "r002", "r004"]  # r000: seven, r003: duplicate of "dup"
    assert all(r["multiple_of_7"] is False for r in outputs["marks"])
