"""Minimal stages of each kind, used by the engine tests (and shown in docs/stages.md)."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.stage import (
    ORDER,
    ExpandResult,
    ExpandStage,
    GlobalResult,
    GlobalStage,
    MapStage,
    ModelStage,
    OrderResult,
    OrderStage,
    StageParams,
)
from curate.tables import mark_drops


class Shout(MapStage):
    """map: upper-cases the text and counts characters."""

    name = "shout"

    def process_batch(self, batch: pa.Table):
        text = pc.utf8_upper(batch.column("text"))
        batch = batch.set_column(batch.schema.get_field_index("text"), "text", text)
        return batch, {"chars": int(pc.sum(pc.utf8_length(text)).as_py() or 0)}


class LongestPerSource(GlobalStage):
    """global: keeps the longest document of each source; marks only the others."""

    name = "longest_per_source"

    def run(self, dataset):
        rows = dataset.select_columns(["source", "text", ORDER]).to_pandas()
        rows["length"] = rows["text"].str.len()
        best = rows.sort_values(["source", "length", ORDER], ascending=[True, False, True]).groupby("source").head(1)
        losers = rows[~rows[ORDER].isin(best[ORDER])]
        import ray.data

        marks = pa.table({ORDER: pa.array(losers[ORDER].tolist(), pa.int64()),
                          "_drop_reason": pa.array(["not_longest"] * len(losers), pa.string())})
        return GlobalResult(marks=ray.data.from_arrow(marks), stats={"sources": int(best.shape[0])})


class Split(ExpandStage):
    """expand: each document also becomes one row per sentence (ids ``<id>#s<k>``)."""

    name = "split"

    class Params(StageParams):
        drop_parents: bool = Field(False, description="Drop the original documents.")

    def process_batch(self, batch: pa.Table) -> ExpandResult:
        ids, parents, texts = [], [], []
        for doc_id, text in zip(batch.column("id").to_pylist(), batch.column("text").to_pylist()):
            for k, sentence in enumerate(s.strip() for s in text.split(".") if s.strip()):
                ids.append(f"{doc_id}#s{k}")
                parents.append(doc_id)
                texts.append(sentence)
        if self.params.drop_parents:
            batch = mark_drops(batch, [True] * batch.num_rows, "split_into_sentences")
        created = pa.table({"id": ids, "parent_id": parents, "text": texts})
        return ExpandResult(batch=batch, created=created, stats={"sentences": len(ids)})


class RepeatedIds(ExpandStage):
    """expand, broken on purpose: every created row gets the same id."""

    name = "repeated_ids"

    def process_batch(self, batch: pa.Table) -> ExpandResult:
        n = batch.num_rows
        created = pa.table({"id": ["same"] * n, "parent_id": batch.column("id"), "text": ["x"] * n})
        return ExpandResult(batch=batch, created=created)


class Reverse(OrderStage):
    """order: writes documents in reverse, in contexts of three documents."""

    name = "reverse"

    def run(self, dataset) -> OrderResult:
        def keys(batch: pa.Table) -> pa.Table:
            orders = batch.column(ORDER)
            return pa.table({ORDER: orders, "key": pc.negate(orders)})

        keyed = dataset.map_batches(keys, batch_format="pyarrow").materialize()
        ranked = sorted(keyed.take_all(), key=lambda r: r["key"])
        contexts = pa.table({ORDER: [r[ORDER] for r in ranked], "key": [r["key"] for r in ranked],
                             "context_id": [i // 3 for i in range(len(ranked))]})
        import ray.data

        return OrderResult(keys=ray.data.from_arrow(contexts), group_column="context_id",
                           stats={"contexts": (len(ranked) + 2) // 3})


def wait_to_be_killed(flag: str | None) -> None:
    """The first time: write this worker's pid to ``flag`` and wait for the test to kill the process."""
    if flag and not os.path.exists(flag):
        with open(flag + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(flag + ".tmp", flag)
        time.sleep(60)  # killed from outside long before this ends


class Killable(MapStage):
    """map: its worker is killed (once) while it holds ``victim``."""

    name = "killable"

    class Params(StageParams):
        victim: str
        kill_flag: str

    def process_batch(self, batch: pa.Table) -> pa.Table:
        if self.params.victim in batch.column("id").to_pylist():
            wait_to_be_killed(self.params.kill_flag)
        return batch


class FakeModel(ModelStage, MapStage):
    """model: "loads" a model once per actor and tags documents with the actor's process id.

    With ``fail_flag`` set, the batch holding ``fail_on`` raises while the flag
    file exists (a crash mid-stage); with ``kill_flag`` set, that batch's worker
    writes its pid to the flag file and waits to be killed (once).
    """

    name = "fake_model"

    class Params(StageParams):
        fail_on: str | None = None
        fail_flag: str | None = None
        kill_flag: str | None = None
        concurrency: int | None = Field(None, gt=0)

    def setup(self) -> None:
        self.model = {"loaded_by": os.getpid()}

    def process_batch(self, batch: pa.Table):
        p = self.params
        if p.fail_on in batch.column("id").to_pylist():
            if p.fail_flag and os.path.exists(p.fail_flag):
                raise RuntimeError("model crashed")
            wait_to_be_killed(p.kill_flag)
        tagged = batch.append_column("model_pid", pa.array([self.model["loaded_by"]] * batch.num_rows))
        return tagged, {"scored": batch.num_rows}
