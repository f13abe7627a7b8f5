"""The pipeline runner: owns Ray, batching, checkpoints, the output and the manifest.

Every stage's result is checkpointed under ``OUT/_stages/NN-name/``. A stage
whose checkpoint carries the same fingerprint (the inputs, the reader, and all
stages up to it with their parameters) is not run again, so a crashed run
resumes after its last finished stage and an edited pipeline reuses its
unchanged prefix.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import __version__
from curate.config import PipelineConfig, stable_hash
from curate.documents import RECORD_BITS
from curate.grouping import KEPT, later_duplicates
from curate.io import checkpoint
from curate.io.reader import REPAIRED, InputError, InputFile, ReaderConfig, open_parquet, read_file, resolve_inputs
from curate.io.writer import write_dropped, write_output
from curate.manifest import build_manifest, write_manifest
from curate.stage import DROP_COLUMNS, DROP_DETAIL, DROP_REASON, ORDER, GlobalStage, MapStage, Stage

READ_STAGE = "read"


class StageError(Exception):
    """A stage failed or broke the stage contract; the message names the stage."""


@dataclass
class StageRecord:
    """What one stage did, as written to the manifest."""

    index: int
    name: str
    kind: str
    params: dict[str, Any]
    fingerprint: str
    documents_in: int = 0
    documents_out: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    resumed: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- map stages

_STAGE_CACHE: dict[tuple[type, str], MapStage] = {}


def _checked(stage: Stage, batch: pa.Table, result: pa.Table) -> pa.Table:
    """Enforce the stage contract: same rows, same order, string drop columns."""
    if not isinstance(result, pa.Table):
        raise StageError(f"stage {stage.name!r} returned {type(result).__name__}, expected a pyarrow.Table")
    if result.num_rows != batch.num_rows or (
        ORDER in result.column_names and not result.column(ORDER).equals(batch.column(ORDER))
    ):
        raise StageError(
            f"stage {stage.name!r} returned {result.num_rows} rows for {batch.num_rows}: stages mark drops "
            "(curate.stage.mark_drops) instead of removing or reordering rows"
        )
    if ORDER not in result.column_names:
        result = result.append_column(ORDER, batch.column(ORDER))
    return _ensure_drop_columns(result)


def _stage_over_parts(stage: MapStage, paths: list[str]) -> Iterator[pa.Table]:
    """Feed the kept rows of checkpoint parts to a map stage, ``stage.batch_size`` rows at a time."""
    for path in paths:
        table = checkpoint.read_kept(path)
        table = table.drop_columns([c for c in DROP_COLUMNS if c in table.column_names])
        for offset in range(0, table.num_rows, stage.batch_size):
            batch = table.slice(offset, stage.batch_size)
            yield _checked(stage, batch, stage.process_batch(batch))


def _apply_map_stage(paths: pa.Table, stage_cls: type[MapStage], params: Any) -> Iterator[pa.Table]:
    """Ray task body for stateless map stages; each worker sets the stage up once."""
    key = (stage_cls, params.model_dump_json())
    stage = _STAGE_CACHE.get(key)
    if stage is None:
        stage = stage_cls(params)
        stage.setup()
        _STAGE_CACHE[key] = stage
    yield from _stage_over_parts(stage, paths.column("path").to_pylist())


class _MapStageActor:
    """Ray actor body for stateful map stages (a model loaded once per actor)."""

    def __init__(self, stage_cls: type[MapStage], params: Any) -> None:
        self.stage = stage_cls(params)
        self.stage.setup()

    def __call__(self, paths: pa.Table) -> Iterator[pa.Table]:
        yield from _stage_over_parts(self.stage, paths.column("path").to_pylist())


# ---------------------------------------------------------------- reading


def _read_files(batch: pa.Table, config: ReaderConfig) -> Iterator[pa.Table]:
    for spec in batch.to_pylist():
        file = InputFile(spec["path"], spec["name"], spec["size"], spec["format"])
        yield from read_file(spec["file_index"], file, config)


def _repeated_id_marks(batch: pa.Table, names: list[str]) -> pa.Table:
    detail = [f"id {i!r} already used at {position(k, names)}"
              for i, k in zip(batch.column("id").to_pylist(), batch.column(KEPT).to_pylist())]
    return pa.table({ORDER: batch.column(ORDER), DROP_REASON: pa.array(["duplicate_id"] * batch.num_rows, pa.string()),
                     DROP_DETAIL: pa.array(detail, pa.string())})


def position(order: int, names: list[str]) -> str:
    """``file:line`` of a document from its ``_order``."""
    return f"{names[order >> RECORD_BITS]}:{order & ((1 << RECORD_BITS) - 1)}"


# ---------------------------------------------------------------- the runner


ProgressCallback = Callable[[str, StageRecord], None]


class Runner:
    """Runs stages over inputs into ``output``; see :func:`run_pipeline`."""

    def __init__(
        self,
        inputs: list[str],
        output: str,
        stages: list[Stage],
        *,
        reader: ReaderConfig | None = None,
        writer: Any = None,
        config: dict[str, Any] | None = None,
        force: bool = False,
        on_event: ProgressCallback | None = None,
        part_rows: int = checkpoint.PART_ROWS,
    ) -> None:
        from curate.io.writer import WriterConfig

        self.inputs = inputs
        self.output = os.path.abspath(output)
        self.stages = stages
        self.reader = reader or ReaderConfig()
        self.writer = writer or WriterConfig()
        self.config = config or {}
        self.force = force
        self.part_rows = part_rows
        self.on_event = on_event or (lambda event, record: None)
        self.stages_dir = os.path.join(self.output, "_stages")

    # -- helpers
    def _stage_dir(self, index: int, name: str) -> str:
        return os.path.join(self.stages_dir, f"{index:02d}-{name}")

    def _reuse(self, record: StageRecord, stage_dir: str) -> bool:
        if self.force:
            return False
        success = checkpoint.read_success(stage_dir)
        if not success or success.get("fingerprint") != record.fingerprint:
            return False
        for key in ("documents_in", "documents_out", "dropped", "seconds", "stats"):
            setattr(record, key, success[key])
        record.resumed = True
        return True

    def _finish(self, record: StageRecord, stage_dir: str, started: float, stats: dict[str, Any] | None = None) -> None:
        files = checkpoint.part_files(stage_dir)
        total, reasons = checkpoint.count_rows(files)
        record.documents_in = total
        record.dropped = dict(sorted(reasons.items()))
        record.documents_out = total - sum(reasons.values())
        record.seconds = round(time.time() - started, 3)
        record.stats = stats or {}
        checkpoint.write_success(stage_dir, asdict(record))

    # -- the run
    def run(self) -> dict[str, Any]:

        started = time.time()
        files = resolve_inputs(self.inputs, exclude=self.output)
        for file in files:
            if file.format == "parquet":
                open_parquet(file, self.reader)  # fail fast, before starting Ray work
        os.makedirs(self.stages_dir, exist_ok=True)
        fingerprint = stable_hash(
            {"version": __version__, "reader": self.reader.model_dump(),
             "files": [(f.path, f.size, os.stat(f.path).st_mtime_ns) for f in files]}
        )
        records: list[StageRecord] = []
        read_record = StageRecord(0, READ_STAGE, "read", self.reader.model_dump(), fingerprint)
        read_dir = self._stage_dir(0, READ_STAGE)
        recompute = not self._reuse(read_record, read_dir)
        if recompute:
            self.on_event("start", read_record)
            t0 = time.time()
            self._run_read(files, read_dir)
            repaired = sum(pc.sum(pq.read_table(p, columns=[REPAIRED]).column(REPAIRED)).as_py() or 0
                           for p in checkpoint.part_files(read_dir))
            self._finish(read_record, read_dir, t0, {"files": len(files), "repaired_invalid_utf8": repaired})
        self.on_event("done", read_record)
        records.append(read_record)

        previous_dir = read_dir
        for index, stage in enumerate(self.stages, start=1):
            params = stage.params.model_dump(mode="json")
            fingerprint = stable_hash({"previous": fingerprint, "name": stage.name, "params": params})
            record = StageRecord(index, stage.name, stage.kind, params, fingerprint)
            stage_dir = self._stage_dir(index, stage.name)
            if recompute or not self._reuse(record, stage_dir):
                recompute = True
                self.on_event("start", record)
                t0 = time.time()
                stats = self._run_stage(stage, previous_dir, stage_dir, records[-1].documents_out)
                self._finish(record, stage_dir, t0, stats)
            self.on_event("done", record)
            records.append(record)
            previous_dir = stage_dir
        self._remove_stale_stage_dirs(records)

        self.on_event("start", StageRecord(len(records), "write", "write", {}, ""))
        shards = write_output(checkpoint.part_files(previous_dir), self.output, self.writer)
        dropped_shards = write_dropped(
            [(r.name, checkpoint.part_files(self._stage_dir(r.index, r.name))) for r in records if r.dropped],
            os.path.join(self.output, "_dropped"),
            self.writer,
        )
        manifest = build_manifest(
            config=self.config, files=files, records=[asdict(r) for r in records], shards=shards,
            dropped_shards=dropped_shards, wall_seconds=round(time.time() - started, 3),
        )
        write_manifest(self.output, manifest)
        return manifest

    def _remove_stale_stage_dirs(self, records: list[StageRecord]) -> None:
        current = {os.path.basename(self._stage_dir(r.index, r.name)) for r in records}
        for entry in os.listdir(self.stages_dir):
            if entry not in current:
                shutil.rmtree(os.path.join(self.stages_dir, entry), ignore_errors=True)

    def _run_read(self, files: list[InputFile], stage_dir: str) -> None:
        import ray
        import ray.data

        checkpoint.reset(stage_dir)
        os.makedirs(stage_dir)
        items = [{"file_index": i, "path": f.path, "name": f.name, "size": f.size, "format": f.format}
                 for i, f in enumerate(files)]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        dataset = dataset.map_batches(_read_files, fn_kwargs={"config": self.reader}, batch_size=1,
                                      batch_format="pyarrow")
        _execute(lambda: dataset.write_datasink(checkpoint.CheckpointSink(stage_dir, self.part_rows)), READ_STAGE)

        # Repeated ids: the first occurrence keeps its id, later ones are quarantined.
        parts = checkpoint.part_files(stage_dir)
        if not parts:
            return
        names = [f.name for f in files]
        keys = checkpoint.read_dataset(parts, columns=["id", ORDER]).select_columns(["id", ORDER])
        later, clusters, _ = _execute(lambda: later_duplicates(keys, "id", ORDER), READ_STAGE)
        if clusters == 0:
            return
        if self.reader.strict:
            first = later.sort(ORDER).take(1)[0]
            raise InputError(f"{position(first[ORDER], names)}: id {first['id']!r} already used at "
                             f"{position(first[KEPT], names)}; drop --strict to quarantine repeated ids")
        marks = later.map_batches(_repeated_id_marks, fn_kwargs={"names": names}, batch_format="pyarrow")
        _execute(lambda: _merge_marks(marks, parts, stage_dir, self.part_rows, kept_only=False), READ_STAGE)

    def _run_stage(self, stage: Stage, previous_dir: str, stage_dir: str, expected: int) -> dict[str, Any]:
        checkpoint.reset(stage_dir)
        os.makedirs(stage_dir)
        if expected == 0:
            return {}
        parts = checkpoint.part_files(previous_dir)
        stats: dict[str, Any] = {}
        if isinstance(stage, MapStage):
            # One task (or actor call) per checkpoint part: parts are the unit of parallelism.
            import ray.data

            resources = stage.resources
            options: dict[str, Any] = {"num_cpus": resources.num_cpus}
            if resources.num_gpus:
                options["num_gpus"] = resources.num_gpus
            paths = ray.data.from_items([{"path": p} for p in parts], override_num_blocks=len(parts))
            if stage.stateful:
                dataset = paths.map_batches(
                    _MapStageActor, fn_constructor_args=(type(stage), stage.params),
                    concurrency=resources.concurrency or 1, batch_size=1, batch_format="pyarrow", **options)
            else:
                dataset = paths.map_batches(
                    _apply_map_stage, fn_kwargs={"stage_cls": type(stage), "params": stage.params},
                    batch_size=1, batch_format="pyarrow", **options)
        elif isinstance(stage, GlobalStage):
            dataset = checkpoint.read_dataset(parts).drop_columns(list(DROP_COLUMNS))
            result = _execute(lambda: stage.run(dataset), stage.name)
            stats = dict(result.stats)
            if result.marks is not None:
                _execute(lambda: _merge_marks(result.marks, parts, stage_dir, self.part_rows), stage.name)
                return self._check_count(stage, stage_dir, expected, stats)
            dataset = result.dataset.map_batches(_ensure_drop_columns, batch_format="pyarrow").sort(ORDER)
        else:
            raise StageError(f"stage {stage.name!r} is neither a MapStage nor a GlobalStage")
        _execute(lambda: dataset.write_datasink(checkpoint.CheckpointSink(stage_dir, self.part_rows)), stage.name)
        return self._check_count(stage, stage_dir, expected, stats)

    @staticmethod
    def _check_count(stage: Stage, stage_dir: str, expected: int, stats: dict[str, Any]) -> dict[str, Any]:
        written, _ = checkpoint.count_rows(checkpoint.part_files(stage_dir))
        if written != expected:
            raise StageError(f"stage {stage.name!r} returned {written} rows for {expected}: "
                             "every row must come back, drops marked")
        return stats


# ---------------------------------------------------------------- global stage marks


def _merge_marks(marks: Any, parts: list[str], stage_dir: str, part_rows: int, kept_only: bool = True) -> None:
    """Merge a global stage's marks into the documents, part by part, without moving texts.

    Marks are sorted by ``_order`` into files named by their first position;
    each document part is then merged with the mark files overlapping its
    range in its own Ray task.
    """
    import ray

    marks_dir = os.path.join(stage_dir, "_marks")
    os.makedirs(marks_dir, exist_ok=True)
    marks.sort(ORDER).write_datasink(checkpoint.CheckpointSink(marks_dir, part_rows))
    mark_files = checkpoint.part_files(marks_dir)
    mark_starts = [checkpoint.first_order(path) for path in mark_files]
    part_starts = [checkpoint.first_order(path) for path in parts]
    merge = ray.remote(_merge_part)
    pending = []
    for i, part in enumerate(parts):
        low, high = part_starts[i], part_starts[i + 1] if i + 1 < len(parts) else None
        overlapping = [
            path for j, path in enumerate(mark_files)
            if (high is None or mark_starts[j] < high) and (j + 1 == len(mark_files) or mark_starts[j + 1] > low)
        ]
        pending.append(merge.remote(part, overlapping, stage_dir, kept_only))
    matched = sum(ray.get(pending))
    total, _ = checkpoint.count_rows(mark_files)
    shutil.rmtree(marks_dir)
    if matched != total:
        raise StageError(f"{total - matched} marks name documents that are not in the stage's input, or name one twice")


def _merge_part(part: str, mark_files: list[str], out_dir: str, kept_only: bool) -> int:
    """Apply the marks of one part's range; returns how many marks matched a document.

    With ``kept_only`` the part's already-dropped rows are left out (they stay
    with the stage that dropped them); otherwise the part is updated in place.
    """
    import numpy as np

    if kept_only:
        table = checkpoint.read_kept(part)
        table = table.drop_columns([c for c in DROP_COLUMNS if c in table.column_names])
    else:
        table = pq.read_table(part)
    if table.num_rows == 0:
        return 0
    matched_count = 0
    orders = table.column(ORDER).to_numpy()
    if mark_files:
        marks = pa.concat_tables([pq.read_table(path) for path in mark_files], promote_options="permissive")
        mark_orders = marks.column(ORDER).to_numpy()
        inside = (mark_orders >= orders.min()) & (mark_orders <= orders.max())
        marks = marks.filter(pa.array(inside))
        mark_orders = mark_orders[inside]
        if len(mark_orders) and np.any(np.diff(mark_orders) <= 0):
            raise StageError("marks are not unique by _order")
        index = np.clip(np.searchsorted(mark_orders, orders), 0, max(len(mark_orders) - 1, 0))
        matched = mark_orders[index] == orders if len(mark_orders) else np.zeros(len(orders), dtype=bool)
        matched_count = int(matched.sum())
        take = pa.array(index)
        for name in marks.column_names:
            if name == ORDER:
                continue
            values = marks.column(name).take(take) if len(mark_orders) else pa.nulls(len(orders), marks.schema.field(name).type)
            current = table.column(name) if name in table.column_names else pa.nulls(len(orders), values.type)
            merged = pc.if_else(pa.array(matched), values, current.cast(values.type))
            if name in table.column_names:
                table = table.set_column(table.schema.get_field_index(name), name, merged)
            else:
                table = table.append_column(name, merged)
    checkpoint.write_part(out_dir, _ensure_drop_columns(table))
    return matched_count


def _ensure_drop_columns(batch: pa.Table) -> pa.Table:
    for column in DROP_COLUMNS:
        if column not in batch.column_names:
            batch = batch.append_column(column, pa.nulls(batch.num_rows, pa.string()))
        elif batch.schema.field(column).type != pa.string():
            index = batch.schema.get_field_index(column)
            batch = batch.set_column(index, column, batch.column(column).cast(pa.string()))
    return batch


def _execute(action: Callable[[], Any], stage_name: str) -> Any:
    """Run Ray work, turning Ray's wrapped errors into ours with the innermost message."""
    try:
        return action()
    except (InputError, StageError):
        raise
    except Exception as exc:
        for error in (exc, _root_cause(exc)):
            if isinstance(error, (InputError, StageError)):
                raise error from None
        name, message = _innermost_error(exc)
        if name == "InputError":
            raise InputError(message) from None
        if name == "StageError":
            raise StageError(message) from exc
        raise StageError(f"stage {stage_name!r} failed: {name}: {message}") from exc


_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)): (.+)$", re.MULTILINE)
_WRAPPERS = ("UserCodeException", "RayTaskError")


def _innermost_error(exc: BaseException) -> tuple[str, str]:
    """The first non-wrapper error named in the text of ``exc`` (Ray puts the task's traceback there)."""
    for name, message in _ERROR_LINE.findall(str(exc)):
        short = name.split(".")[-1]
        if not short.startswith(_WRAPPERS):
            return short, message
    lines = str(exc).splitlines()
    return type(exc).__name__, lines[0] if lines else ""


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = getattr(exc, "cause", None) or exc.__cause__
        if nxt is None:
            break
        exc = nxt
    return exc


def run_pipeline(
    config: PipelineConfig,
    *,
    force: bool = False,
    on_event: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run a validated pipeline (Ray must be initialised, see ``curate.ray_env``)."""
    if not config.input:
        raise InputError("no input: set 'input' in the pipeline or pass --input")
    if not config.output:
        raise InputError("no output: set 'output' in the pipeline or pass --output")
    runner = Runner(
        config.input, config.output, config.build_stages(), reader=config.reader, writer=config.writer,
        config=config.to_dict(), force=force, on_event=on_event,
    )
    return runner.run()
