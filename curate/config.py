"""Pipeline YAML: parsing, ``--set`` overrides and validation.

A pipeline file looks like::

    input: data/sample            # optional; a path, glob or list of them
    output: out/default           # optional; both are overridden by the CLI
    reader: {text_field: text}    # optional, see ReaderConfig
    writer: {rows_per_shard: 100000}
    keep_checkpoints: true        # false: remove OUT/_stages/ after a successful run
    pack: {seq_len: 2048}         # optional last step: token shards in OUT/_packed (see curate.feed.pack)
    stages:
      - normalize: {}
      - length_filter: {min_words: 5}
      - exact_dedup: {}

Each item of ``stages`` maps one stage name to its parameters; the same stage
may appear more than once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from curate.io.reader import ReaderConfig
from curate.io.writer import WriterConfig
from curate.stage import Stage
from curate.stages import get_stage_class, stage_names

TOP_LEVEL_KEYS = ("input", "output", "reader", "writer", "keep_checkpoints", "stages", "pack")


class ConfigError(Exception):
    """The pipeline file or an override is wrong; the message says how to fix it."""


@dataclass
class StageSpec:
    name: str
    params: dict[str, Any]


@dataclass
class PipelineConfig:
    stages: list[StageSpec]
    input: list[str] = field(default_factory=list)
    output: str | None = None
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    writer: WriterConfig = field(default_factory=WriterConfig)
    keep_checkpoints: bool = True
    pack: Any = None  # a curate.feed.pack.PackConfig: pack the output into token shards after the run

    def build_stages(self) -> list[Stage]:
        """Instantiate every stage with validated parameters."""
        stages = []
        for position, spec in enumerate(self.stages, start=1):
            cls = _stage_class(spec.name, position)
            stages.append(cls(_validated(cls.Params, spec.params, f"stage {position} ({spec.name})")))
        if any(stage.name == "embed" for stage in stages):
            from curate.stages.embed import check_embedding_inputs

            try:
                check_embedding_inputs(stages)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        return stages

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration, with every default filled in."""
        return {
            "input": list(self.input),
            "output": self.output,
            "reader": self.reader.model_dump(),
            "writer": self.writer.model_dump(),
            "keep_checkpoints": self.keep_checkpoints,
            "stages": [{stage.name: stage.params.model_dump(mode="json")} for stage in self.build_stages()],
        } | ({"pack": self.pack.model_dump(mode="json")} if self.pack is not None else {})

    def config_hash(self) -> str:
        """Hash of what determines the result (the output path excluded)."""
        return resolved_config_hash(self.to_dict())


def resolved_config_hash(resolved: dict[str, Any]) -> str:
    """Hash of a resolved configuration, ignoring where its output goes and whether checkpoints are kept."""
    return stable_hash({k: v for k, v in resolved.items() if k not in ("output", "keep_checkpoints")})


def stable_hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _stage_class(name: str, position: int) -> type[Stage]:
    try:
        return get_stage_class(name)
    except KeyError:
        raise ConfigError(f"stage {position}: unknown stage {name!r}; valid stages: {', '.join(stage_names())}") from None


def _validated(model: type[BaseModel], values: dict[str, Any], where: str) -> Any:
    try:
        return model(**values)
    except ValidationError as exc:
        valid = ", ".join(model.model_fields) or "(none)"
        problems = []
        for error in exc.errors():
            loc = ".".join(str(part) for part in error["loc"]) or "(parameters)"
            if error["type"] == "extra_forbidden":
                problems.append(f"unknown parameter {loc!r}")
            else:
                problems.append(f"{loc}: {error['msg']}")
        raise ConfigError(f"{where}: {'; '.join(problems)}. Valid parameters: {valid}") from None


def _parse_stages(raw: Any) -> list[StageSpec]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigError("'stages' must be a list, e.g. '- length_filter: {min_words: 5}'")
    specs = []
    for position, item in enumerate(raw, start=1):
        if isinstance(item, str):
            name, params = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            params = {} if params is None else params
        else:
            raise ConfigError(f"stage {position}: each stage is one 'name: {{params}}' mapping, got {item!r}")
        if not isinstance(params, dict):
            raise ConfigError(f"stage {position} ({name}): parameters must be a mapping, got {params!r}")
        _stage_class(str(name), position)
        specs.append(StageSpec(str(name), dict(params)))
    return specs


def parse_pipeline(data: Any, overrides: list[str] | None = None) -> PipelineConfig:
    """Build a validated pipeline from parsed YAML plus ``key=value`` overrides."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("a pipeline file is a mapping with 'stages' (and optionally input, output, reader, writer)")
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"unknown top-level key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(TOP_LEVEL_KEYS)}")
    stages = _parse_stages(data.get("stages"))
    reader = dict(data.get("reader") or {})
    writer = dict(data.get("writer") or {})
    for override in overrides or []:
        _apply_override(override, stages, reader, writer)
    keep = data.get("keep_checkpoints", True)
    if not isinstance(keep, bool):
        raise ConfigError(f"keep_checkpoints must be true or false, got {keep!r}")
    raw_input = data.get("input")
    inputs = [] if raw_input is None else [raw_input] if isinstance(raw_input, str) else list(raw_input)
    config = PipelineConfig(
        stages=stages,
        input=[str(path) for path in inputs],
        output=None if data.get("output") is None else str(data["output"]),
        reader=_validated(ReaderConfig, reader, "reader"),
        writer=_validated(WriterConfig, writer, "writer"),
        keep_checkpoints=keep,
        pack=_pack_config(data.get("pack")),
    )
    config.build_stages()  # validates every stage's parameters
    return config


def _pack_config(raw: Any) -> Any:
    if raw is None or raw is False:
        return None
    from curate.feed.pack import PackConfig

    if raw is not True and not isinstance(raw, dict):
        raise ConfigError(f"pack: expected true or a mapping of options (e.g. 'pack: {{seq_len: 2048}}'), got {raw!r}")
    return _validated(PackConfig, {} if raw is True else raw, "pack")


def _apply_override(override: str, stages: list[StageSpec], reader: dict, writer: dict) -> None:
    """Apply ``target.param=value``; target is a stage name, a 1-based stage position, reader or writer."""
    key, sep, raw_value = override.partition("=")
    target, dot, param = key.strip().rpartition(".")
    if not sep or not dot or not target or not param:
        raise ConfigError(f"--set {override!r}: expected STAGE.PARAM=VALUE (e.g. length_filter.min_words=5)")
    try:
        value = yaml.safe_load(raw_value) if raw_value.strip() else ""
    except yaml.YAMLError:
        value = raw_value
    if target == "reader":
        reader[param] = value
        return
    if target == "writer":
        writer[param] = value
        return
    if target.isdigit():
        index = int(target) - 1
        if not 0 <= index < len(stages):
            raise ConfigError(f"--set {override!r}: there is no stage {target}; the pipeline has {len(stages)}")
        matches = [stages[index]]
    else:
        matches = [spec for spec in stages if spec.name == target]
        if not matches:
            names = ", ".join(dict.fromkeys(spec.name for spec in stages)) or "(none)"
            raise ConfigError(f"--set {override!r}: the pipeline has no stage {target!r}; its stages: {names}")
    for spec in matches:
        spec.params[param] = value


def load_pipeline(path: str, overrides: list[str] | None = None) -> PipelineConfig:
    """Read and validate a pipeline YAML file."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"pipeline file not found: {path}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        problem = str(exc).replace("\n", " ")
        raise ConfigError(f"{path}: not valid YAML: {problem}") from None
    return parse_pipeline(data, overrides)
