"""The runner through the Python API: accounting, resume, fused chains, contract checks."""

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from curate.manifest import read_manifest
from curate.runner import Runner, StageError
from curate.stage import DROP_REASON, ORDER, GlobalResult, GlobalStage, MapStage
from curate.stages.exact_dedup import ExactDedup
from curate.stages.icp_reorder import IcpReorder
from curate.stages.length_filter import LengthFilter
from curate.stages.normalize import Normalize
from curate.tables import mark_drops
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
    """Drops even numbers and reports how many numbers it saw through the stats channel."""

    name = "drop_even"

    def process_batch(self, batch: pa.Table):
        numbers = [int(t.split()[-1]) for t in batch.column("text").to_pylist()]
        marked = mark_drops(batch, [n % 2 == 0 for n in numbers], "even")
        return marked, {"seen": len(numbers), "by_parity": {"even": sum(n % 2 == 0 for n in numbers)}}


@pytest.fixture
def corpus(tmp_path):
    records = [{"id": f"r{i:03d}", "text": f"document number {i}"} for i in range(40)]
    records += [{"id": "dup", "text": "document number 3"}, "{oops", {"id": "r000", "text": "id reused 1"}]
    return str(write_jsonl(tmp_path / "in.jsonl", records))


def _output(out) -> list[dict]:
    shards = sorted(out.glob("*.parquet"))
    return pa.concat_tables(pq.read_table(p) for p in shards).to_pylist() if shards else []


def _dropped(out) -> list[dict]:
    return pa.concat_tables(pq.read_table(p) for p in sorted((out / "_dropped").glob("*.parquet"))).to_pylist()


def test_accounting_resume_and_stats(ray_session, tmp_path, corpus):
    out = tmp_path / "out"
    with pytest.raises(StageError, match="explode.*boom"):
        Runner([corpus], str(out), [Normalize(), Explode()]).run()

    manifest = Runner([corpus], str(out), [Normalize(), DropEven(), ExactDedup()]).run()
    assert [(s.name, s.kind) for s in manifest.stages] == [
        ("read", "read"), ("normalize", "map"), ("drop_even", "map"), ("exact_dedup", "global")]
    # read, normalize and drop_even ran fused: one checkpoint for the three
    assert {s.checkpoint for s in manifest.stages[:3]} == {"00-read+normalize+drop_even"}
    docs = manifest.documents
    assert docs.input == 43 and docs.balanced and docs.created == 0
    assert docs.dropped_by_reason == {"duplicate_id": 1, "even": 20, "exact_duplicate": 1, "malformed_json": 1}
    # per stage, in = out + dropped, and each stage's input is the previous stage's output
    for before, after in zip(manifest.stages, manifest.stages[1:]):
        assert after.documents_in == before.documents_out
    for stage in manifest.stages:
        assert stage.documents_in + stage.created == stage.documents_out + stage.dropped_total
    # the stats channel sums what each batch reported: 40 + "dup" + the repeated "r000", which the fused
    # chain sees before ids are checked at the end of the read step (the counts above leave it out)
    assert manifest.stages[2].stats == {"seen": 42, "by_parity": {"even": 20}}
    # "dup" has the same text as r003; the smaller id is kept; drops name the stage that made them
    dropped = _dropped(out)
    row = [r for r in dropped if r["reason"] == "exact_duplicate"][0]
    assert (row["id"], row["duplicate_of"], row["stage"]) == ("r003", "dup", "exact_dedup")
    assert {r["reason"]: r["stage"] for r in dropped} == {
        "duplicate_id": "read", "even": "drop_even", "exact_duplicate": "exact_dedup", "malformed_json": "read"}

    again = Runner([corpus], str(out), [Normalize(), DropEven(), ExactDedup()]).run()
    assert all(s.resumed for s in again.stages)
    assert again.documents == manifest.documents
    assert read_manifest(str(out)).config_hash == again.config_hash

    # changing a parameter recomputes that stage and the ones after it only
    changed = Runner([corpus], str(out), [Normalize(), DropEven(), ExactDedup(lowercase=False)]).run()
    assert [s.resumed for s in changed.stages] == [True, True, True, False]
    forced = Runner([corpus], str(out), [Normalize()], force=True).run()
    assert not any(s.resumed for s in forced.stages)
    assert sorted(p.name for p in (out / "_stages").iterdir()) == ["00-read+normalize"]


def test_stage_that_removes_rows_is_refused(ray_session, tmp_path, corpus):
    with pytest.raises(StageError, match="'shrink'.*map stages return every row"):
        Runner([corpus], str(tmp_path / "out"), [Shrink()]).run()


def test_empty_input_after_reading(ray_session, tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", ["{nope", {"text": ""}])
    stages = [LengthFilter(min_words=1), ExactDedup(), IcpReorder(embedder="hashing")]
    manifest = Runner([str(path)], str(tmp_path / "out"), stages).run()
    assert manifest.documents.model_dump() == {
        "input": 2, "created": 0, "output": 0, "dropped": 2, "dropped_by_stage": {"00-read": 2},
        "dropped_by_reason": {"empty_text": 1, "malformed_json": 1}}
    assert read_manifest(str(tmp_path / "out")).output.shards == []


def _multiple_of_seven(batch: pa.Table) -> pa.Table:
    numbers = pa.array([int(t.split()[-1]) % 7 == 0 for t in batch.column("text").to_pylist()])
    return batch.append_column("multiple_of_7", numbers)


class SevensAsMarks(GlobalStage):
    """Drops multiples of seven and flags them, through marks for those rows only."""

    name = "sevens_marks"

    def run(self, dataset):
        def marks(batch: pa.Table) -> pa.Table:
            batch = _multiple_of_seven(batch)
            batch = batch.filter(batch.column("multiple_of_7"))
            return pa.table({ORDER: batch.column(ORDER), "multiple_of_7": batch.column("multiple_of_7"),
                             DROP_REASON: pa.array(["seven"] * batch.num_rows, pa.string())})
        return GlobalResult(marks=dataset.map_batches(marks, batch_format="pyarrow"), stats={"kind": "marks"},
                            defaults={"multiple_of_7": False})


class MarksTwice(GlobalStage):
    name = "marks_twice"

    def run(self, dataset):
        def marks(batch: pa.Table) -> pa.Table:
            return pa.table({ORDER: pa.concat_arrays([batch.column(ORDER).combine_chunks()] * 2), "x": [1] * (2 * batch.num_rows)})
        return GlobalResult(marks=dataset.map_batches(marks, batch_format="pyarrow"))


class ReturnsRows(GlobalStage):
    name = "returns_rows"

    def run(self, dataset):
        return dataset


def test_global_stage_marks_agree_across_part_sizes(ray_session, tmp_path, corpus):
    outputs = {}
    for part_rows in (4, 20_000):
        out = tmp_path / f"parts{part_rows}"
        manifest = Runner([corpus], str(out), [SevensAsMarks(), ExactDedup()], part_rows=part_rows).run()
        assert manifest.stages[1].dropped == {"seven": 6}
        assert manifest.stages[1].stats == {"kind": "marks"}
        outputs[part_rows] = _output(out)
    assert outputs[4] == outputs[20_000]
    assert [r["id"] for r in outputs[4]][:3] == ["r001", "r002", "r004"]  # r000: seven, r003: duplicate of "dup"
    assert all(r["multiple_of_7"] is False for r in outputs[4])  # the default for rows without a mark


@pytest.mark.parametrize("stage, message", [
    (MarksTwice(), "marked a row twice"),
    (ReturnsRows(), "expected a GlobalResult"),
])
def test_global_stage_contract(ray_session, tmp_path, corpus, stage, message):
    with pytest.raises(StageError, match=message):
        Runner([corpus], str(tmp_path / "out"), [stage]).run()


def test_checkpoints_can_be_removed_after_the_run(ray_session, tmp_path, corpus):
    out = tmp_path / "out"
    manifest = Runner([corpus], str(out), [Normalize(), ExactDedup()], keep_checkpoints=False).run()
    assert not (out / "_stages").exists() and not manifest.checkpoints_kept
    kept = Runner([corpus], str(tmp_path / "kept"), [Normalize(), ExactDedup()]).run()
    assert _output(out) == _output(tmp_path / "kept") and manifest.documents == kept.documents


def test_checkpoints_hold_each_text_once(ray_session, tmp_path, corpus):
    """A map chain writes one checkpoint and a global stage only its marks, never a second copy of the texts."""
    out = tmp_path / "out"
    Runner([corpus], str(out), [Normalize(), LengthFilter(min_words=1), ExactDedup()]).run()
    folders = sorted(p.name for p in (out / "_stages").iterdir())
    assert folders == ["00-read+normalize+length_filter", "03-exact_dedup"]
    for part in (out / "_stages" / "03-exact_dedup").glob("*.parquet"):
        assert "text" not in pq.read_schema(part).names
    texts = sum(pq.read_table(p, columns=["text"]).num_rows
                for p in (out / "_stages" / folders[0]).glob("*.parquet"))
    assert texts == 43
    # exact_dedup's hashes were computed in the chain and deleted once it had run
    assert not (out / "_stages" / folders[0] / "_features").exists()


def test_drop_reasons_name_the_fused_stage(ray_session, tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "   "}, {"id": "b", "text": "one"},
                                               {"id": "c", "text": "two words"}, {"id": "d", "text": "\u200b"}])
    out = tmp_path / "out"
    Runner([str(path)], str(out), [Normalize(), LengthFilter(min_words=2)]).run()
    stages = {r["id"]: (r["stage"], r["reason"]) for r in _dropped(out)}
    assert stages == {"in.jsonl:1": ("read", "empty_text"), "b": ("length_filter", "too_few_words"),
                      "d": ("normalize", "empty_after_normalize")}
    assert [r["id"] for r in _output(out)] == ["c"]
    assert pc.sum(pa.array([r["char_count"] for r in _output(out)])).as_py() == 9


def test_an_edited_stage_is_recomputed(ray_session, tmp_path, corpus, monkeypatch):
    from curate import runner
    from curate.engine.code import code_fingerprint

    out = str(tmp_path / "out")
    Runner([corpus], out, [Normalize(), ExactDedup()]).run()
    real = runner.code_fingerprint
    monkeypatch.setattr(runner, "code_fingerprint", lambda cls: "edited" if cls is ExactDedup else real(cls))
    again = Runner([corpus], out, [Normalize(), ExactDedup()]).run()
    assert [s.resumed for s in again.stages] == [True, True, False]
    # now normalize is edited too (exact_dedup's code is as in the last run): the edit to the earlier stage
    # recomputes it and every stage after it
    monkeypatch.setattr(runner, "code_fingerprint", lambda cls: "edited" if cls in (Normalize, ExactDedup) else real(cls))
    edited_first = Runner([corpus], out, [Normalize(), ExactDedup()]).run()
    assert [s.resumed for s in edited_first.stages] == [False, False, False]
    assert code_fingerprint(ExactDedup) and code_fingerprint(ExactDedup) != code_fingerprint(Normalize)


def test_code_fingerprint_follows_the_module_source(tmp_path, monkeypatch):
    import importlib
    import sys

    from curate.engine.code import code_fingerprint

    monkeypatch.syspath_prepend(str(tmp_path))
    prints = []
    for body in ("return batch", "return batch  # edited"):
        (tmp_path / "my_stage_module.py").write_text(
            "from curate.stage import MapStage\n\nclass Mine(MapStage):\n    name = 'mine'\n\n"
            f"    def process_batch(self, batch):\n        {body}\n")
        sys.modules.pop("my_stage_module", None)
        importlib.invalidate_caches()
        module = importlib.import_module("my_stage_module")
        prints.append(code_fingerprint(module.Mine))
    sys.modules.pop("my_stage_module", None)
    assert prints[0] and prints[0] != prints[1]


def test_code_fingerprint_follows_helper_modules_and_shipped_data(tmp_path, monkeypatch):
    import importlib
    import sys

    from curate.engine.code import code_fingerprint, stage_files

    package = tmp_path / "myplugin"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "stage.py").write_text(
        "from curate.stage import MapStage\nfrom myplugin.helper import keep\n\n"
        "class Mine(MapStage):\n    name = 'mine'\n\n    def process_batch(self, batch):\n        return keep(batch)\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    def fingerprint() -> str:
        for name in [n for n in sys.modules if n.split(".")[0] == "myplugin"]:
            sys.modules.pop(name)
        importlib.invalidate_caches()
        cls = importlib.import_module("myplugin.stage").Mine
        code_fingerprint.cache_clear()
        return code_fingerprint(cls)

    (package / "helper.py").write_text("def keep(batch):\n    return batch\n")
    (package / "weights.json").write_text('{"w": 1}')
    first = fingerprint()
    assert [name for name, _ in stage_files(importlib.import_module("myplugin.stage").Mine)] == [
        "myplugin.helper", "myplugin.stage"]
    (package / "helper.py").write_text("def keep(batch):\n    return batch  # edited\n")
    second = fingerprint()
    (package / "weights.json").write_text('{"w": 2}')
    third = fingerprint()
    for name in [n for n in sys.modules if n.split(".")[0] == "myplugin"]:
        sys.modules.pop(name)
    assert len({first, second, third}) == 3


def test_strict_reading_stops_at_a_repeated_id(ray_session, tmp_path):
    from curate.errors import InputError
    from curate.io.reader import ReaderConfig

    records = [{"id": f"r{i}", "text": f"document number {i}"} for i in range(5)] + [{"id": "r1", "text": "again"}]
    corpus = str(write_jsonl(tmp_path / "in.jsonl", records))
    with pytest.raises(InputError, match=r"id 'r1' already used at .*in\.jsonl:2"):
        Runner([corpus], str(tmp_path / "out"), [Normalize()], reader=ReaderConfig(strict=True)).run()
