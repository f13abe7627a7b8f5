"""The runner through the Python API: accounting, resume, contract checks."""

import json

import pyarrow as pa
import pytest

from curate.manifest import read_manifest
from curate.runner import Runner, StageError
from curate.stage import MapStage, mark_drops
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
    dropped = pa.concat_tables(pa.parquet.read_table(p) for p in (tmp_path / "out" / "_dropped").glob("*.parquet"))
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
