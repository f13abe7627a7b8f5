"""What the report shows, read from a run's output folder: documents, dropped rows, token counts, rewrites."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from curate.feed.shards import document_shards
from curate.io import atomic, storage
from curate.io.frames import read_frame
from curate.manifest import Manifest, read_manifest

STRUCTURAL = {"context_id", "position"}
LANGUAGE_COLUMNS = ("language", "lang", "language_id", "lid_language", "fasttext_language")
CHARS_PER_TOKEN = 4.0


@dataclass
class RunData:
    output: str
    manifest: Manifest
    documents: pl.DataFrame
    dropped: pl.DataFrame
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dropped_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    token_source: str = ""


class TokenCounter:
    """Token counts with a real tokenizer, or an estimate (characters / 4) when none is wanted or available."""

    def __init__(self, spec: str | None) -> None:
        self.tokenizer = None
        self.note = f"estimated as characters / {CHARS_PER_TOKEN:g}"
        if spec and spec != "estimate":
            from curate.feed.tokenizer import TokenizerError, load_tokenizer

            try:
                self.tokenizer = load_tokenizer(spec)
                self.note = f"counted with the {self.tokenizer.name} tokenizer"
            except (TokenizerError, ImportError) as exc:
                self.note += f" (tokenizer {spec!r} unavailable: {exc})"

    def count(self, texts: list[str | None]) -> np.ndarray:
        texts = [text or "" for text in texts]
        if self.tokenizer is None:
            return np.ceil(np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))
                           / CHARS_PER_TOKEN).astype(np.int64)
        counts = [self.tokenizer.count(texts[start:start + 1024]) for start in range(0, len(texts), 1024)]
        return np.concatenate(counts) if counts else np.zeros(0, np.int64)


def load(output: str, tokenizer: str | None = "default") -> RunData:
    manifest = read_manifest(output)
    files = document_shards(output, manifest)
    documents = read_frame(files) if files else pl.DataFrame({"id": [], "text": []})
    dropped_files = sorted(storage.glob(storage.join(output, "_dropped", "*.parquet")))
    dropped = read_frame(dropped_files) if dropped_files else pl.DataFrame(
        schema={"id": pl.String, "stage": pl.String, "reason": pl.String, "detail": pl.String,
                "duplicate_of": pl.String, "text": pl.String, "source": pl.String})
    counter = TokenCounter(tokenizer)
    return RunData(output, manifest, documents, dropped, counter.count(documents["text"].to_list()),
                   counter.count(dropped["text"].to_list()), counter.note)


def funnel(data: RunData) -> list[dict]:
    """Per stage: documents and tokens in and out.

    Tokens are those of each document's final text (its output version, or the copy in ``_dropped/``): the
    tokens a stage passes on are those of the documents it kept.
    """
    position = {record.name: i for i, record in enumerate(data.manifest.stages)}  # a name's last position
    dropped_at = np.zeros(len(data.manifest.stages) + 1, dtype=np.int64)
    for stage, count in zip(data.dropped["stage"].to_list(), data.dropped_tokens.tolist()):
        dropped_at[position.get(stage, -1)] += count  # -1: a stage the manifest does not name
    created_at = np.zeros(len(data.manifest.stages) + 1, dtype=np.int64)
    if "created_by" in data.documents.columns:
        for stage, count in zip(data.documents["created_by"].to_list(), data.tokens.tolist()):
            if stage is not None:
                created_at[position.get(stage, -1)] += count
    rows = []
    for index, record in enumerate(data.manifest.stages):
        # kept by this stage: the output, plus what later stages dropped, minus what later stages created
        out_tokens = int(data.tokens.sum() + dropped_at[index + 1:-1].sum() - created_at[index + 1:-1].sum())
        rows.append({"stage": f"{record.index} {record.name}", "kind": record.kind,
                     "documents_in": record.documents_in, "created": record.created, "documents_out": record.documents_out,
                     "tokens_in": out_tokens + int(dropped_at[index]) - int(created_at[index]),
                     "tokens_out": out_tokens})
    return rows


def score_columns(documents: pl.DataFrame) -> list[str]:
    """Numeric output columns (scores and measurements), structural positions excluded."""
    return [name for name, dtype in documents.schema.items()
            if dtype.is_numeric() and name not in STRUCTURAL and documents[name].null_count() < documents.height]


def language_column(documents: pl.DataFrame) -> str | None:
    for name in LANGUAGE_COLUMNS:
        if name in documents.columns and documents.schema[name] == pl.String:
            return name
    return None


def duplicate_clusters(dropped: pl.DataFrame) -> pl.DataFrame:
    """Kept document id and cluster size (itself plus its dropped duplicates), largest first."""
    if "duplicate_of" not in dropped.columns:
        return pl.DataFrame(schema={"duplicate_of": pl.String, "size": pl.Int64})
    return (dropped.filter(pl.col("duplicate_of").is_not_null())
            .group_by("duplicate_of").agg((pl.len() + 1).cast(pl.Int64).alias("size"),
                                          pl.col("stage").first(), pl.col("text").first())
            .sort(["size", "duplicate_of"], descending=[True, False]))


def rewrites(data: RunData, limit: int = 5) -> list[dict]:
    """Up to ``limit`` rewritten documents with their text before and after.

    The text before comes from ``original_text`` (``keep_original: true``) or, when the run kept its
    checkpoints, from the last checkpoint before the rewriting stage that holds texts.
    """
    docs = data.documents
    if "original_text" in docs.columns:
        edited = docs.filter(pl.col("original_text").is_not_null() & (pl.col("original_text") != pl.col("text")))
        return [{"id": r["id"], "before": r["original_text"], "after": r["text"]}
                for r in edited.head(limit).iter_rows(named=True)]
    if "rewrite_status" not in docs.columns:
        return []
    edited = docs.filter(pl.col("rewrite_status") == "edited").head(limit)
    if edited.height == 0:
        return []
    before = _texts_before_rewrite(data, edited["id"].to_list())
    return [{"id": r["id"], "before": before.get(r["id"]), "after": r["text"]} for r in edited.iter_rows(named=True)]


def _texts_before_rewrite(data: RunData, ids: list[str]) -> dict[str, str]:
    record = next((r for r in data.manifest.stages if r.name == "rewrite" or "rewritten" in r.stats), None)
    stages_dir = storage.join(data.output, "_stages")
    if record is None or not record.checkpoint:
        return {}
    earlier = [name for name in storage.listdir(stages_dir) if name < record.checkpoint]
    for name in reversed(earlier):
        parts = sorted(storage.glob(storage.join(stages_dir, name, "*.parquet")))
        if parts and {"id", "text"} <= set(atomic.read_schema(parts[0]).names):
            return _texts_of(parts, ids)
    return {}


def _texts_of(parts: list[str], ids: list[str]) -> dict[str, str]:
    """``id`` -> ``text`` of the rows of ``parts`` with those ids, one part in memory at a time."""
    wanted = pa.array(ids, pa.string())
    found: dict[str, str] = {}
    for path in parts:
        if not {"id", "text"} <= set(atomic.read_schema(path).names):
            continue
        table = atomic.read_table(path, columns=["id", "text"])
        table = table.filter(pc.is_in(table.column("id"), value_set=wanted))
        found.update(zip(table.column("id").to_pylist(), table.column("text").to_pylist()))
    return found
