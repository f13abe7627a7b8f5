"""The run manifest ``OUT/_manifest.json``: what went in, what came out, what was dropped and why.

One typed model, :class:`Manifest`, written by ``curate run`` and read by
``curate inspect`` and anything else that looks at a run (``read_manifest``).
"""

from __future__ import annotations

import os
import platform
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel, Field

from curate.hashing import resolved_config_hash
from curate.io.reader import InputFile

MANIFEST = "_manifest.json"
SCHEMA_VERSION = 2
VERSIONED_PACKAGES = ("curate", "pyarrow", "polars", "ray", "numpy", "pydantic", "datasketch", "fasttext", "vllm")


class StageRecord(BaseModel):
    """What one stage did. Per stage: ``documents_in + created = documents_out + dropped``."""

    index: int
    name: str
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str = ""
    documents_in: int = 0
    created: int = 0
    documents_out: int = 0
    dropped: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0
    resumed: bool = False
    stats: dict[str, Any] = Field(default_factory=dict)
    checkpoint: str | None = Field(None, description="Folder under _stages/ holding this stage's result.")
    parts: int = Field(0, description="Units of work (input files or checkpoint parts) of a per-part stage.")
    parts_resumed: int = Field(0, description="Of those, finished by an earlier, interrupted run.")

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


class Documents(BaseModel):
    """The run's accounting: ``input + created = output + dropped``."""

    input: int = 0
    created: int = 0
    output: int = 0
    dropped: int = 0
    dropped_by_stage: dict[str, int] = Field(default_factory=dict)
    dropped_by_reason: dict[str, int] = Field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.input + self.created == self.output + self.dropped


class Shard(BaseModel):
    path: str
    rows: int
    bytes: int


class Output(BaseModel):
    shards: list[Shard] = Field(default_factory=list)
    dropped: list[Shard] = Field(default_factory=list)
    group_column: str | None = None


class InputRecord(BaseModel):
    path: str
    name: str
    bytes: int
    format: str


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    created: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    config_hash: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    inputs: list[InputRecord] = Field(default_factory=list)
    stages: list[StageRecord] = Field(default_factory=list)
    documents: Documents = Field(default_factory=Documents)
    output: Output = Field(default_factory=Output)
    checkpoints_kept: bool = True
    write_seconds: float = Field(0.0, description="Writing the output shards and the dropped table.")
    wall_seconds: float = 0.0


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def build_manifest(
    *,
    config: dict[str, Any],
    files: list[InputFile],
    records: list[StageRecord],
    shards: list[dict[str, Any]],
    dropped_shards: list[dict[str, Any]],
    wall_seconds: float,
    group_column: str | None = None,
    checkpoints_kept: bool = True,
    write_seconds: float = 0.0,
) -> Manifest:

    dropped_by_reason: Counter[str] = Counter()
    dropped_by_stage: dict[str, int] = {}
    for record in records:
        dropped_by_reason.update(record.dropped)
        if record.dropped:
            dropped_by_stage[f"{record.index:02d}-{record.name}"] = record.dropped_total
    return Manifest(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        config=config,
        config_hash=resolved_config_hash(config),
        versions=package_versions(),
        inputs=[InputRecord(path=f.path, name=f.name, bytes=f.size, format=f.format) for f in files],
        stages=records,
        documents=Documents(
            input=records[0].documents_in if records else 0,
            created=sum(r.created for r in records),
            output=sum(int(s["rows"]) for s in shards),
            dropped=sum(dropped_by_reason.values()),
            dropped_by_stage=dropped_by_stage,
            dropped_by_reason=dict(sorted(dropped_by_reason.items())),
        ),
        output=Output(shards=[Shard(**s) for s in shards],
                      dropped=[Shard(**dict(s, path=f"_dropped/{s['path']}")) for s in dropped_shards],
                      group_column=group_column),
        checkpoints_kept=checkpoints_kept,
        write_seconds=write_seconds,
        wall_seconds=wall_seconds,
    )


def write_manifest(output: str, manifest: Manifest) -> str:
    path = os.path.join(output, MANIFEST)
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(manifest.model_dump_json(indent=2))
        handle.write("\n")
    os.replace(tmp, path)
    return path


def read_manifest(output: str) -> Manifest:
    """The manifest of a run's output folder (older manifests without a schema version read as version 1)."""
    with open(os.path.join(output, MANIFEST)) as handle:
        text = handle.read()
    manifest = Manifest.model_validate_json(text)
    if '"schema_version"' not in text:
        manifest.schema_version = 1
    return manifest
