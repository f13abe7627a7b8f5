"""A stage that runs as several steps has one manifest record, and its accounting balances."""

from __future__ import annotations

from curate.engine.composite import merged, per_stage
from curate.manifest import StageRecord


def _record(index: int, name: str, kind: str, documents_in: int, documents_out: int, **fields) -> StageRecord:
    return StageRecord(index=index, name=name, kind=kind, documents_in=documents_in, documents_out=documents_out,
                       **fields)


def test_the_steps_of_one_stage_become_one_record_that_balances():
    score = _record(2, "quality", "map", 100, 100, stats={"scored": 90, "score_sum": 40.0, "mean_score": 0.44},
                    seconds=1.25, parts=3, checkpoint="00-read+quality", fingerprint="a")
    cut = _record(2, "quality", "global", 100, 70, dropped={"low_quality": 30}, seconds=0.5, checkpoint="02-quality",
                  stats={"scored": 100, "failed": 30, "cut": 0.2}, fingerprint="b")
    one = merged([score, cut])
    assert (one.index, one.name, one.kind) == (2, "quality", "map+global")
    assert (one.documents_in, one.documents_out, one.dropped, one.created) == (100, 70, {"low_quality": 30}, 0)
    assert one.documents_in + one.created == one.documents_out + one.dropped_total
    # the deciding (last) step's numbers win; what only the earlier step measured is kept
    assert one.stats == {"scored": 100, "failed": 30, "cut": 0.2, "score_sum": 40.0, "mean_score": 0.44}
    assert (one.seconds, one.parts, one.checkpoint, one.fingerprint) == (1.75, 3, "02-quality", "b")


def test_per_stage_keeps_single_step_stages_and_their_order():
    records = [_record(0, "read", "read", 10, 10), _record(1, "normalize", "map", 10, 9, dropped={"empty": 1}),
               _record(2, "quality", "map", 9, 9), _record(2, "quality", "global", 9, 5, dropped={"low_quality": 4}),
               _record(3, "length_filter", "map", 5, 4, dropped={"short": 1})]
    combined = per_stage(records)
    assert [(r.index, r.kind, r.documents_in, r.documents_out) for r in combined] == [
        (0, "read", 10, 10), (1, "map", 10, 9), (2, "map+global", 9, 5), (3, "map", 5, 4)]
    assert combined[1] is records[1]
