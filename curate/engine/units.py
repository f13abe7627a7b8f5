"""A chain of stages over one unit of work, with the contract of each kind checked.

A unit is one input file (for the first step, which reads) or one checkpoint
part. Its rows flow batch by batch through the chain; each stage sees only the
rows no earlier stage dropped, and rows it drops are set aside with
``_drop_stage`` naming it. The unit's rows, kept and dropped, are written as
checkpoint parts named by their first ``_order`` (the first named by the
unit's start), and a summary of counts and statistics is returned.
No Ray in here: :mod:`curate.engine.mapping` runs units on Ray.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.documents import MAX_CHILDREN
from curate.engine import features as features_io
from curate.engine.snapshot import PartView, read_view
from curate.errors import StageError
from curate.io import atomic, storage
from curate.io.reader import REPAIRED, InputFile, ReaderConfig, read_file
from curate.io.records import read_stats
from curate.stage import (
    CREATED_BY,
    DROP_COLUMNS,
    DROP_REASON,
    DROP_STAGE,
    ORDER,
    PARENT_ID,
    BatchStage,
    ExpandResult,
    ExpandStage,
    GlobalStage,
    MapStage,
    Stage,
)
from curate.tables import drop_mask, ensure_drop_columns

READ = "read"

# A part is cut at this many rows or bytes of Arrow data, whichever comes first.
PART_BYTES = 256 << 20


@dataclass
class Unit:
    """One piece of work: an input file or a checkpoint part; ``low``/``high`` bound its orders."""

    key: str
    low: int
    high: int | None
    file: InputFile | None = None
    file_index: int = 0
    reader: ReaderConfig | None = None
    view: PartView | None = None

    def batches(self) -> Iterator[pa.Table]:
        if self.file is not None:
            yield from read_file(self.file_index, self.file, self.reader or ReaderConfig())
        elif self.view is not None:
            table = read_view(self.view)
            if table.num_rows:
                yield table


@dataclass
class StageCounts:
    """Rows in and out of one stage over some units, drops by reason, rows created, summed statistics."""

    documents_in: int = 0
    documents_out: int = 0
    created: int = 0
    dropped: Counter = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)
    #: seconds spent in this stage, summed over units (workers run in parallel)
    busy: float = 0.0

    def add(self, other: StageCounts) -> None:
        self.documents_in += other.documents_in
        self.documents_out += other.documents_out
        self.created += other.created
        self.busy += other.busy
        self.dropped.update(other.dropped)
        self.stats = add_stats(self.stats, other.stats)

    def to_dict(self) -> dict[str, Any]:
        return {"documents_in": self.documents_in, "documents_out": self.documents_out, "created": self.created,
                "dropped": dict(sorted(self.dropped.items())), "stats": self.stats, "busy": round(self.busy, 6)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StageCounts:
        return cls(data["documents_in"], data["documents_out"], data["created"], Counter(data["dropped"]),
                   data["stats"], data.get("busy", 0.0))


def add_stats(total: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Sum two statistics dicts: numbers add up, dicts merge recursively, anything else keeps the last value."""
    out = dict(total)
    for key, value in new.items():
        old = out.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float, dict)):
            out[key] = value
        elif isinstance(value, dict):
            out[key] = add_stats(old if isinstance(old, dict) else {}, value)
        else:
            out[key] = (old if isinstance(old, (int, float)) and not isinstance(old, bool) else 0) + value
    return out


class Chain:
    """Stages applied in order to batches; counts kept per stage name."""

    def __init__(self, stages: list[BatchStage], reads_input: bool, feature_stage: GlobalStage | None = None
                 ) -> None:
        self.stages = stages
        self.reads_input = reads_input
        self.feature_stage = feature_stage
        names = ([READ] if reads_input else []) + [stage.name for stage in stages]
        self.counts: dict[str, StageCounts] = {name: StageCounts() for name in names}

    def process(self, batch: pa.Table) -> pa.Table:
        """Every row of ``batch`` plus created rows, sorted by ``_order``; drops carry ``_drop_stage``."""
        set_aside: list[pa.Table] = []
        if self.reads_input:
            batch = self._count_read(batch)
        batch = ensure_drop_columns(batch)
        mask = drop_mask(batch)
        if mask.any():
            set_aside.append(_with_stage(batch.filter(pa.array(mask)), READ))
        kept = _strip_drops(batch.filter(pa.array(~mask)))
        for stage in self.stages:
            counts = self.counts[stage.name]
            counts.documents_in += kept.num_rows
            started = time.perf_counter()
            out = self._run_stage(stage, kept, counts)
            counts.busy += time.perf_counter() - started
            mask = drop_mask(out)
            if mask.any():
                dropped = out.filter(pa.array(mask))
                counts.dropped.update(reason_counts(dropped.column(DROP_REASON)))
                set_aside.append(_with_stage(dropped, stage.name))
            kept = _strip_drops(out.filter(pa.array(~mask)))
            counts.documents_out += kept.num_rows
        if self.feature_stage is not None and kept.num_rows:
            kept = self._add_features(kept, self.feature_stage)
        if not set_aside:
            return ensure_drop_columns(kept)
        pieces = [ensure_drop_columns(kept), *set_aside]
        return pa.concat_tables(pieces, promote_options="permissive").sort_by(ORDER)

    def _add_features(self, kept: pa.Table, stage: GlobalStage) -> pa.Table:
        features = stage.features(kept) or {}
        start = features_io.prefix(stage)
        for name, values in features.items():
            kept = kept.append_column(start + name, values)
        return kept

    def _count_read(self, batch: pa.Table) -> pa.Table:
        counts = self.counts[READ]
        counts.documents_in += batch.num_rows
        mask = drop_mask(batch)
        counts.documents_out += int((~mask).sum())
        if mask.any():
            counts.dropped.update(reason_counts(batch.column(DROP_REASON).filter(pa.array(mask))))
        counts.stats = add_stats(counts.stats, read_stats(batch))  # what the reader counted besides rows
        batch = batch.replace_schema_metadata(None)
        if REPAIRED in batch.column_names:
            repaired = int(pc.sum(batch.column(REPAIRED)).as_py() or 0)
            counts.stats = add_stats(counts.stats, {"repaired_invalid_utf8": repaired})
            batch = batch.drop_columns([REPAIRED])
        return batch

    def _run_stage(self, stage: BatchStage, kept: pa.Table, counts: StageCounts) -> pa.Table:
        size = max(1, stage.batch_size)
        outputs = []
        for offset in range(0, kept.num_rows, size):
            piece = kept.slice(offset, size)
            if isinstance(stage, ExpandStage):
                outputs.append(self._expand(stage, piece, counts))
                continue
            if not isinstance(stage, MapStage):
                raise StageError(f"stage {stage.name!r} ({type(stage).__name__}) is neither a map nor an expand stage")
            result = stage.process_batch(piece)
            if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
                result, stats = result
                counts.stats = add_stats(counts.stats, stats)
            outputs.append(checked(stage, piece, result))
        if not outputs:
            return ensure_drop_columns(kept)
        return pa.concat_tables(outputs, promote_options="permissive")

    def _expand(self, stage: ExpandStage, piece: pa.Table, counts: StageCounts) -> pa.Table:
        result = stage.process_batch(piece)
        if not isinstance(result, ExpandResult):
            raise StageError(f"expand stage {stage.name!r} returned {type(result).__name__}, expected an ExpandResult")
        counts.stats = add_stats(counts.stats, result.stats)
        marked = checked(stage, piece, result.batch)
        created = created_rows(stage, marked, result.created)
        counts.created += created.num_rows  # in + created = out + dropped
        if created.num_rows == 0:
            return marked
        return pa.concat_tables([marked, created], promote_options="permissive").sort_by(ORDER)


def reason_counts(reasons: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    """Rows per drop reason."""
    return {c["values"]: c["counts"] for c in pc.value_counts(reasons.drop_null()).to_pylist()}


def checked(stage: Stage, batch: pa.Table, result: Any) -> pa.Table:
    """Enforce the map contract: a Table with the same rows, same order, string drop columns."""
    if not isinstance(result, pa.Table):
        raise StageError(f"stage {stage.name!r} returned {type(result).__name__}, expected a pyarrow.Table")
    if result.num_rows != batch.num_rows or (
        ORDER in result.column_names and not result.column(ORDER).equals(batch.column(ORDER))
    ):
        raise StageError(
            f"stage {stage.name!r} returned {result.num_rows} rows for {batch.num_rows}: {stage.kind} stages return "
            "every row in the same order and mark drops (curate.stage.mark_drops) instead of removing rows"
        )
    if ORDER not in result.column_names:
        result = result.append_column(ORDER, batch.column(ORDER))
    return ensure_drop_columns(result)


def created_rows(stage: Stage, batch: pa.Table, created: pa.Table) -> pa.Table:
    """Check an expand stage's new rows and place them right after their parents."""
    if not isinstance(created, pa.Table):
        raise StageError(f"expand stage {stage.name!r}: created rows must be a pyarrow.Table")
    if created.num_rows == 0:
        return created
    for column in ("id", PARENT_ID, "text"):
        if column not in created.column_names:
            raise StageError(f"expand stage {stage.name!r}: created rows need an {column!r} column")
    if DROP_REASON in created.column_names and created.column(DROP_REASON).null_count != created.num_rows:
        raise StageError(f"expand stage {stage.name!r}: created rows cannot be marked dropped")
    ids = created.column("id").to_pylist()
    parents = created.column(PARENT_ID).to_pylist()
    existing = set(batch.column("id").to_pylist())
    seen: set[str] = set()
    for new_id in ids:
        if new_id is None:
            raise StageError(f"expand stage {stage.name!r}: a created row has no id")
        if new_id in seen or new_id in existing:
            raise StageError(f"expand stage {stage.name!r} emitted id {new_id!r} twice: created rows need unique, "
                             "deterministic ids (e.g. derived from the parent id)")
        seen.add(new_id)
    order_of_id = dict(zip(batch.column("id").to_pylist(), batch.column(ORDER).to_pylist()))
    children: Counter[str] = Counter()
    orders = np.empty(len(ids), dtype=np.int64)
    for i, parent in enumerate(parents):
        if parent not in order_of_id:
            raise StageError(f"expand stage {stage.name!r}: created row {ids[i]!r} names parent {parent!r}, "
                             "which is not a row of the batch")
        parent_order = order_of_id[parent]
        if parent_order & MAX_CHILDREN:
            raise StageError(f"expand stage {stage.name!r}: row {parent!r} was itself created by an expand stage; "
                             "rows can only be created from input documents (or after an order stage)")
        children[parent] += 1
        if children[parent] > MAX_CHILDREN:
            raise StageError(f"expand stage {stage.name!r} created more than {MAX_CHILDREN} rows from {parent!r}")
        orders[i] = parent_order + children[parent]
    created = created.drop_columns([c for c in (ORDER, CREATED_BY, *DROP_COLUMNS) if c in created.column_names])
    created = created.append_column(ORDER, pa.array(orders)).append_column(
        CREATED_BY, pa.array([stage.name] * created.num_rows, pa.string()))
    return ensure_drop_columns(created).sort_by(ORDER)


def _strip_drops(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in (*DROP_COLUMNS, DROP_STAGE) if c in table.column_names])


def _with_stage(table: pa.Table, stage: str) -> pa.Table:
    table = ensure_drop_columns(table)
    if DROP_STAGE in table.column_names:
        table = table.drop_columns([DROP_STAGE])
    return table.append_column(DROP_STAGE, pa.array([stage] * table.num_rows, pa.string()))


class PartWriter:
    """Writes a unit's rows as parts of at most ``part_rows`` rows, each file published only when complete.

    The first part is named by the unit's start and later ones by their first
    ``_order``, so part names stay sorted and ranges never interleave.
    """

    def __init__(self, folder: str, unit: Unit, part_rows: int, part_bytes: int = PART_BYTES) -> None:
        self.folder, self.unit, self.part_rows, self.part_bytes = folder, unit, part_rows, part_bytes
        self.pending: list[pa.Table] = []
        self.rows = self.bytes = 0
        self.written: list[str] = []

    def write(self, table: pa.Table) -> None:
        offset = 0
        while offset < table.num_rows:
            piece = table.slice(offset, self.part_rows - self.rows)
            self.pending.append(piece)
            self.rows += piece.num_rows
            self.bytes += piece.nbytes
            offset += piece.num_rows
            if self.rows >= self.part_rows or self.bytes >= self.part_bytes:
                self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        table = pa.concat_tables(self.pending, promote_options="permissive")
        start = self.unit.low if not self.written else table.column(ORDER)[0].as_py()
        path = storage.join(self.folder, f"{start:020d}.parquet")
        table, features = features_io.split(table)
        if features is not None:  # written first: a stored part always has its features
            atomic.write_table(features, features_io.path_of(path), compression="zstd")
        atomic.write_table(table, path, compression="zstd")
        self.written.append(path)
        self.pending, self.rows, self.bytes = [], 0, 0


def run_unit(unit: Unit, stages: list[BatchStage], reads_input: bool, folder: str, part_rows: int,
             feature_stage: GlobalStage | None = None) -> dict[str, Any]:
    """Run the chain over one unit, write its parts, and return the per-stage counts (as dicts)."""
    chain = Chain(stages, reads_input, feature_stage)
    writer = PartWriter(folder, unit, part_rows)
    started = time.perf_counter()
    for batch in unit.batches():
        writer.write(chain.process(batch))
    writer.flush()
    if reads_input:  # reading, and writing the parts, is what the stages did not spend
        chain.counts[READ].busy = time.perf_counter() - started - sum(c.busy for c in chain.counts.values())
    return {name: counts.to_dict() for name, counts in chain.counts.items()}

