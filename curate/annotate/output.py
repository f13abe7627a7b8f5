"""Writing annotations: one row per sampled document (Parquet or JSONL) and a summary beside them."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curate.annotate.scorer import Annotation

SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("source", pa.string()),
    pa.field("text", pa.string()),
    pa.field("score", pa.float64()),
    pa.field("answer", pa.int8()),
    pa.field("probabilities", pa.list_(pa.float32())),
    pa.field("error", pa.string()),
    pa.field("model", pa.string()),
    pa.field("prompt_hash", pa.string()),
    pa.field("method", pa.string()),
])
SUFFIXES = (".parquet", ".jsonl")


def check_output_path(path: str) -> None:
    if not path.lower().endswith(SUFFIXES):
        raise ValueError(f"output {path}: name it .parquet or .jsonl (the format follows the suffix)")


def annotation_table(documents: pa.Table, annotations: Sequence[Annotation], model: str, prompt_hash: str,
                     method: str) -> pa.Table:
    n = documents.num_rows
    if len(annotations) != n:
        raise ValueError(f"{len(annotations)} annotations for {n} documents")
    return pa.table({
        "id": documents.column("id"),
        "source": documents.column("source"),
        "text": documents.column("text"),
        "score": pa.array([a.score for a in annotations], pa.float64()),
        "answer": pa.array([a.answer for a in annotations], pa.int8()),
        "probabilities": pa.array([a.probabilities for a in annotations], pa.list_(pa.float32())),
        "error": pa.array([a.error for a in annotations], pa.string()),
        "model": pa.array([model] * n, pa.string()),
        "prompt_hash": pa.array([prompt_hash] * n, pa.string()),
        "method": pa.array([method] * n, pa.string()),
    }, schema=SCHEMA)


def write_annotations(table: pa.Table, path: str) -> None:
    check_output_path(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    if path.lower().endswith(".parquet"):
        pq.write_table(table, path)
        return
    with open(path, "wb") as handle:
        for row in table.to_pylist():
            handle.write(orjson.dumps(row) + b"\n")


def summary_path_of(path: str) -> str:
    """``<stem>.annotate.json`` beside the output."""
    return os.path.splitext(path)[0] + ".annotate.json"


def summarize(table: pa.Table) -> dict[str, Any]:
    """Counts, the score distribution (mean, quantiles, histogram of answers) and the failure reasons."""
    scores = np.array([s for s in table.column("score").to_pylist() if s is not None], dtype=np.float64)
    answers = Counter(a for a in table.column("answer").to_pylist() if a is not None)
    errors = Counter(_reason(e) for e in table.column("error").to_pylist() if e is not None)
    out: dict[str, Any] = {"documents": table.num_rows, "scored": int(scores.size),
                           "failed": table.num_rows - int(scores.size)}
    if scores.size:
        quantiles = np.quantile(scores, [0.1, 0.25, 0.5, 0.75, 0.9])
        out["score"] = {"mean": round(float(scores.mean()), 4), "std": round(float(scores.std()), 4),
                        **{f"p{q}": round(float(v), 4) for q, v in zip((10, 25, 50, 75, 90), quantiles)}}
        out["answers"] = {str(d): answers.get(d, 0) for d in range(6)}
    if errors:
        out["errors"] = dict(errors.most_common(10))
    return out


def _reason(error: str) -> str:
    """An error without its document-specific tail, so equal causes are counted together."""
    return error.split(":", 1)[0] if not error.startswith("not scored") else error[:120]


def write_summary(path: str, summary: dict[str, Any]) -> str:
    target = summary_path_of(path)
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    return target
