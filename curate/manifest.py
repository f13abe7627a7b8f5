"""The run manifest ``OUT/_manifest.json``: what went in, what came out, what was dropped and why."""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from curate.io.reader import InputFile

MANIFEST = "_manifest.json"
VERSIONED_PACKAGES = ("curate", "pyarrow", "polars", "ray", "numpy", "pydantic", "datasketch", "fasttext", "vllm")


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
    records: list[dict[str, Any]],
    shards: list[dict[str, Any]],
    dropped_shards: list[dict[str, Any]],
    wall_seconds: float,
) -> dict[str, Any]:
    from curate.config import resolved_config_hash

    dropped_by_reason: Counter[str] = Counter()
    dropped_by_stage: dict[str, int] = {}
    for record in records:
        dropped_by_reason.update(record["dropped"])
        if record["dropped"]:
            key = f"{record['index']:02d}-{record['name']}"
            dropped_by_stage[key] = sum(record["dropped"].values())
    documents_in = records[0]["documents_in"] if records else 0
    documents_out = sum(int(s["rows"]) for s in shards)
    return {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": config,
        "config_hash": resolved_config_hash(config),
        "versions": package_versions(),
        "inputs": [{"path": f.path, "name": f.name, "bytes": f.size, "format": f.format} for f in files],
        "stages": records,
        "documents": {
            "input": documents_in,
            "output": documents_out,
            "dropped": sum(dropped_by_reason.values()),
            "dropped_by_stage": dropped_by_stage,
            "dropped_by_reason": dict(sorted(dropped_by_reason.items())),
        },
        "output": {"shards": shards, "dropped": [dict(s, path=f"_dropped/{s['path']}") for s in dropped_shards]},
        "wall_seconds": wall_seconds,
    }


def write_manifest(output: str, manifest: dict[str, Any]) -> str:
    path = os.path.join(output, MANIFEST)
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def read_manifest(output: str) -> dict[str, Any]:
    with open(os.path.join(output, MANIFEST)) as handle:
        return json.load(handle)
