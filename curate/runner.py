"""The pipeline runner: steps in order, fingerprints and resume, the output and the manifest.

The pipeline is cut into steps (:mod:`curate.engine.plan`): reading plus the
map stages after it, then fused map chains, model, global, expand and order
stages. Each step leaves a checkpoint under ``OUT/_stages/NN-names/`` with a
fingerprint (the inputs, the reader, and every stage up to it with its
parameters). A re-run reuses every step whose fingerprint matches and
recomputes from the first that does not; a step that was cut short resumes
with the units it had finished. How each kind of step runs lives in
``curate.engine``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from curate import __version__
from curate.config import PipelineConfig
from curate.documents import order_of
from curate.engine import features, ids, output, snapshot
from curate.engine.code import code_fingerprint, files_fingerprint
from curate.engine.composite import merged, per_stage
from curate.engine.mapping import run_units
from curate.engine.marks import write_marks
from curate.engine.ordering import ranked, write_ordered
from curate.engine.plan import READ, Step, plan
from curate.engine.stall import execute
from curate.engine.units import StageCounts, Unit, reason_counts
from curate.errors import StageError
from curate.hashing import stable_hash
from curate.io import atomic, checkpoint, storage
from curate.io.reader import InputError, InputFile, ReaderConfig, check_inputs, resolve_inputs
from curate.io.writer import WriterConfig
from curate.manifest import Manifest, StageRecord, build_manifest, remove_manifest, write_manifest
from curate.stage import (
    DROP_COLUMNS,
    DROP_REASON,
    DROP_STAGE,
    ORDER,
    BatchStage,
    GlobalResult,
    GlobalStage,
    OrderStage,
    Stage,
)

__all__ = ["Runner", "StageError", "StageRecord", "run_pipeline"]

# Version of the checkpoint layout; checkpoints of another layout are recomputed.
LAYOUT = 2
ProgressCallback = Callable[[str, StageRecord], None]
UnitProgress = Callable[[str, int, int], None]


class Runner:
    """Runs stages over inputs into ``output``; see :func:`run_pipeline`."""

    def __init__(
        self,
        inputs: list[str],
        output: str,
        stages: list[Stage],
        *,
        reader: ReaderConfig | None = None,
        writer: WriterConfig | None = None,
        config: dict[str, Any] | None = None,
        force: bool = False,
        keep_checkpoints: bool = True,
        on_event: ProgressCallback | None = None,
        on_progress: UnitProgress | None = None,
        part_rows: int = checkpoint.PART_ROWS,
    ) -> None:
        self.inputs = inputs
        self.output = storage.absolute(output)
        self.stages = stages
        self.reader = reader or ReaderConfig()
        self.writer = writer or WriterConfig()
        self.config = config or {}
        self.force = force
        self.keep_checkpoints = keep_checkpoints
        self.part_rows = part_rows
        self.on_event = on_event or (lambda event, record: None)
        self.on_progress = on_progress or (lambda label, done, total: None)
        self.stages_dir = storage.join(self.output, "_stages")
        self.files: list[InputFile] = []
        self.generations: list[snapshot.Generation] = []
        self.group_column: str | None = None
        self._next: Step | None = None

    # ------------------------------------------------------------------ run
    def run(self) -> Manifest:
        started = time.time()
        self.files = resolve_inputs(self.inputs, exclude=self.output)
        check_inputs(self.files, self.reader)  # fail fast, before any Ray work
        storage.makedirs(self.stages_dir)
        fingerprint = stable_hash(
            {"version": __version__, "layout": LAYOUT, "reader": self.reader.model_dump(),
             "files": [(f.path, f.size, _stamp(f.path)) for f in self.files]}
        )
        records: list[StageRecord] = []
        steps = plan(self.stages)
        last_step = {index: i for i, step in enumerate(steps) for index in step.positions}
        recompute = self.force
        for position, step in enumerate(steps):
            step_records = self._records(step, fingerprint)
            self._next = steps[position + 1] if position + 1 < len(steps) else None
            fingerprint = step_records[-1].fingerprint
            folder = storage.join(self.stages_dir, step.folder)
            success = None if recompute else checkpoint.read_success(folder)
            if success and success.get("fingerprint") == fingerprint:
                step_records = [StageRecord(**dict(r, resumed=True)) for r in success["records"]]
                self._restore(step, folder, success["output"])
            else:
                recompute = True
                for record, later in zip(step_records, [False] * step.reads_input + step.later):
                    if not later:  # a stage's later steps continue what its first step started
                        self.on_event("start", record)
                started_step = time.time()
                result = self._run_step(step, folder, fingerprint, records[-1].documents_out if records else 0,
                                        step_records)
                _share_seconds(step_records, time.time() - started_step)
                for record in step_records:
                    record.checkpoint = step.folder
                checkpoint.write_success(folder, {"fingerprint": fingerprint, "output": result,
                                                  "records": [r.model_dump() for r in step_records]})
            records += step_records
            for record in step_records:
                if last_step.get(record.index, position) == position:  # a stage is done after its last step
                    self.on_event("done", merged([r for r in records if r.index == record.index]))
        self._remove_stale(steps)

        self.on_event("start", StageRecord(index=len(records), name="write", kind="write"))
        write_started = time.time()
        working = tuple(c for stage in self.stages for c in stage.working_columns())
        remove_manifest(self.output)  # the output is not complete again until its new manifest is written
        shards, dropped = output.write(self.generations, self.output, self.writer, self.group_column, working)
        write_seconds = round(time.time() - write_started, 3)
        manifest = build_manifest(
            config=self.config, files=self.files, records=per_stage(records), shards=shards, dropped_shards=dropped,
            wall_seconds=round(time.time() - started, 3), group_column=self.group_column,
            checkpoints_kept=self.keep_checkpoints, write_seconds=write_seconds,
        )
        if not manifest.documents.balanced:
            raise StageError(f"accounting does not balance: {manifest.documents.input} in + "
                             f"{manifest.documents.created} created != {manifest.documents.output} out + "
                             f"{manifest.documents.dropped} dropped")
        write_manifest(self.output, manifest)
        if not self.keep_checkpoints:
            storage.rmtree(self.stages_dir)
        return manifest

    def _records(self, step: Step, previous: str) -> list[StageRecord]:
        records = []
        if step.reads_input:
            records.append(StageRecord(index=0, name=READ, kind="read", params=self.reader.model_dump(),
                                       fingerprint=previous))
        for stage, index in zip(step.stages, step.positions):
            params = stage.params.model_dump(mode="json")
            previous = stable_hash({"previous": previous, "name": stage.name, "params": params,
                                    "code": code_fingerprint(type(stage)),
                                    "files": files_fingerprint(stage.model_files())})
            records.append(StageRecord(index=index, name=stage.name, kind=stage.kind, params=params,
                                       fingerprint=previous))
        return records

    def _restore(self, step: Step, folder: str, result: dict[str, Any]) -> None:
        """Rebuild the snapshot from a finished step's checkpoint."""
        if result.get("generation"):
            self.generations.append(snapshot.Generation(folder))
        for layer in result.get("layers", []):
            layer_folder = folder if layer["folder"] == "." else storage.join(folder, layer["folder"])
            self.generations[-1].layers.append(snapshot.Layer(layer["stage"], layer_folder,
                                                              layer.get("defaults", {}), layer.get("override", False)))
        if "group_column" in result:
            self.group_column = result["group_column"]

    def _remove_stale(self, steps: list[Step]) -> None:
        current = {step.folder for step in steps}
        for entry in storage.listdir(self.stages_dir):
            if entry not in current:
                storage.rmtree(storage.join(self.stages_dir, entry))

    # ------------------------------------------------------------------ steps
    def _run_step(self, step: Step, folder: str, fingerprint: str, expected: int,
                  records: list[StageRecord]) -> dict[str, Any]:
        if step.kind in ("chain", "model", "expand"):
            return self._run_units(step, folder, fingerprint, records)
        checkpoint.reset(folder)
        storage.makedirs(folder)
        stage = step.stages[0]
        record = records[0]
        record.documents_in = expected
        if expected == 0:  # nothing left to decide on
            return {"layers": []}
        if isinstance(stage, GlobalStage):
            return self._run_global(stage, folder, record)
        if isinstance(stage, OrderStage):
            return self._run_order(stage, folder, record)
        raise TypeError(f"a {step.kind} step cannot run {type(stage).__name__}")

    def _units(self, step: Step) -> list[Unit]:
        if step.reads_input:
            return [Unit(key=f"file-{i:07d}", low=order_of(i, 0), high=order_of(i + 1, 0), file=file, file_index=i,
                         reader=self.reader) for i, file in enumerate(self.files)]
        return [Unit(key=view.name, low=view.low, high=view.high, view=view)
                for view in self.generations[-1].views()]

    def _run_units(self, step: Step, folder: str, fingerprint: str, records: list[StageRecord]) -> dict[str, Any]:
        label = "+".join(step.names)
        for stage in step.batch_stages:
            if type(stage).prepare is not BatchStage.prepare:
                execute(lambda stage=stage: stage.prepare(snapshot.dataset(self.generations[-1])), stage.name)
        progress = lambda done, total: self.on_progress(label, done, total)  # noqa: E731
        results, resumed = run_units(label, step.batch_stages, step.reads_input, self._units(step), folder,
                                     self.part_rows, fingerprint, progress, feature_stage=self._feature_stage(step))
        counts = {name: StageCounts() for name in step.names}
        for unit_counts in results:
            for name, values in unit_counts.items():
                counts[name].add(StageCounts.from_dict(values))
        self.generations.append(snapshot.Generation(folder))
        result: dict[str, Any] = {"generation": True}
        if step.reads_input:
            found = ids.repeated_id_layer(self.generations[-1], folder, [f.name for f in self.files],
                                          self.reader.strict, self.part_rows)
            if found is not None:
                layer, previous = found
                ids.correct_counts(counts, step.names, previous)
                self.generations[-1].layers.append(layer)
                result["layers"] = [{"stage": READ, "folder": ids.FOLDER, "defaults": {}, "override": True}]
        if step.kind == "expand":
            self._check_unique_ids(step.stages[0])
        for record in records:
            values = counts[record.name]
            record.seconds = values.busy  # shared out of the step's wall time by _share_seconds
            record.documents_in, record.documents_out = values.documents_in, values.documents_out
            record.created, record.dropped = values.created, dict(sorted(values.dropped.items()))
            record.parts, record.parts_resumed = len(results), resumed
            stage = next((s for s in step.stages if s.name == record.name), None)
            record.stats = type(stage).summarize(values.stats) if stage is not None else values.stats
        return result

    def _feature_stage(self, step: Step) -> GlobalStage | None:
        """The global stage right after a map chain, when it has per-document features to compute there."""
        following = self._next
        if step.kind != "chain" or following is None or following.kind != "global":
            return None
        stage = following.stages[0]
        return stage if isinstance(stage, GlobalStage) and has_features(stage) else None

    def _global_input(self, stage: GlobalStage) -> Any:
        """The kept rows a global stage reads: only its ``columns``, unless it computes its features itself."""
        generation = self.generations[-1]
        parts = generation.parts()
        stored = features.available(parts[0], stage) if parts else []
        wanted = list(stage.columns) if stage.columns is not None else None
        if not stored:
            return snapshot.dataset(generation, columns=None if has_features(stage) else wanted)
        renames = {c: c[len(features.prefix(stage)):] for c in stored}
        columns = [c for c in (wanted or generation_columns(parts[0])) if c not in renames.values()] + stored
        dataset = snapshot.dataset(generation, columns=columns)
        return dataset.map_batches(_renamed, fn_kwargs={"renames": renames}, batch_format="pyarrow")

    def _check_unique_ids(self, stage: Stage) -> None:
        later, clusters = ids.repeated_ids(self.generations[-1].views(), snapshot.read_view, stage.name,
                                           columns=["id", ORDER])
        if clusters:
            example = later.take(1)[0]
            raise StageError(f"expand stage {stage.name!r} emitted id {example['id']!r} twice (or an id that already "
                             "exists): created rows need unique, deterministic ids")

    def _run_global(self, stage: GlobalStage, folder: str, record: StageRecord) -> dict[str, Any]:
        generation = self.generations[-1]
        dataset = self._global_input(stage)
        result = execute(lambda: stage.run(dataset), stage.name)
        if not isinstance(result, GlobalResult):
            raise StageError(f"global stage {stage.name!r} returned {type(result).__name__}, expected a GlobalResult "
                             "with marks")
        files = execute(lambda: write_marks(result.marks, folder, self.part_rows), stage.name)
        layer = snapshot.Layer(stage.name, folder, dict(result.defaults))
        generation.layers.append(layer)
        total, reasons = checkpoint.count_rows(files)
        matched = execute(lambda: _count_matches(generation), stage.name)
        if matched != total:
            raise StageError(f"global stage {stage.name!r}: {total - matched} of its {total} marks name rows that are "
                             "not in its input, or name a row twice")
        record.dropped = dict(sorted(reasons.items()))
        record.documents_out = record.documents_in - sum(reasons.values())
        record.stats = type(stage).summarize(dict(result.stats))
        features.remove(generation.folder)
        return {"layers": [{"stage": stage.name, "folder": ".", "defaults": dict(result.defaults)}]}

    def _run_order(self, stage: OrderStage, folder: str, record: StageRecord) -> dict[str, Any]:
        generation = self.generations[-1]
        dataset = snapshot.dataset(generation)
        result = execute(lambda: stage.run(dataset), stage.name)
        keys = ranked(stage, result, record.documents_in)
        execute(lambda: write_ordered(generation, keys, folder, self.part_rows, stage.name), stage.name)
        self.generations.append(snapshot.Generation(folder))
        self.group_column = result.group_column
        if DROP_REASON in keys.column_names:
            record.dropped = dict(sorted(reason_counts(keys.column(DROP_REASON)).items()))
        record.documents_out = record.documents_in - sum(record.dropped.values())
        record.stats = type(stage).summarize(dict(result.stats))
        return {"generation": True, "group_column": result.group_column}


def has_features(stage: GlobalStage) -> bool:
    """Whether a global stage computes per-document features (which a chain before it can compute instead)."""
    return type(stage).features is not GlobalStage.features


def _renamed(batch: pa.Table, renames: dict[str, str]) -> pa.Table:
    return batch.rename_columns([renames.get(c, c) for c in batch.column_names])


def generation_columns(part: str) -> list[str]:
    """The document columns of a generation (its first part), internal drop columns left out."""
    return [c for c in atomic.read_schema(part).names if c not in (*DROP_COLUMNS, DROP_STAGE)]


def _stamp(path: str) -> str | int:
    """The input file's modification stamp (an int locally, as checkpoints of earlier versions recorded it)."""
    value = storage.stamp(path)
    return int(value) if not storage.is_remote(path) else value


def _share_seconds(records: list[StageRecord], wall: float) -> None:
    """Give each stage of a step its share of the step's wall time, by the time its workers spent in it."""
    busy = sum(max(r.seconds, 0.0) for r in records)
    for record in records:
        share = max(record.seconds, 0.0) / busy if busy > 0 else 1.0 / len(records)
        record.seconds = round(wall * share, 3)


def _count_matches(generation: snapshot.Generation) -> int:
    """Marks of the newest layer that name a kept row, summed over parts on Ray."""
    import ray

    task = ray.remote(snapshot.count_matches).options(num_cpus=1)
    views = generation.views()
    return sum(ray.get([task.remote(view) for view in views]))


def run_pipeline(
    config: PipelineConfig,
    *,
    force: bool = False,
    on_event: ProgressCallback | None = None,
    on_progress: UnitProgress | None = None,
) -> Manifest:
    """Run a validated pipeline (Ray must be initialised, see ``curate.ray_env``)."""
    if not config.input:
        raise InputError("no input: set 'input' in the pipeline or pass --input")
    if not config.output:
        raise InputError("no output: set 'output' in the pipeline or pass --output")
    runner = Runner(
        config.input, config.output, config.build_stages(), reader=config.reader, writer=config.writer,
        config=config.to_dict(), force=force, keep_checkpoints=config.keep_checkpoints, on_event=on_event,
        on_progress=on_progress,
    )
    manifest = runner.run()
    if config.pack is not None:  # the optional last step: token shards for a training job
        from curate.feed.pack import pack_output
        from curate.feed.tokenizer import TokenizerError

        try:
            pack_output(config.output, config.pack)
        except TokenizerError as exc:
            raise StageError(f"pack: {exc}") from None
    return manifest
