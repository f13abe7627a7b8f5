"""``icp_reorder``: order documents for in-context pretraining (Shi et al., In-Context Pretraining).

Related documents should share a training context. The stage follows the
paper (not its reference code):

1. embed each document's first ``max_tokens`` tokens (all-MiniLM-L6-v2 by
   default, or a cheap hashing embedder), in a Ray actor pool, or read the
   embeddings an ``embed`` stage stored (``embedding_column``), so quality
   heads and the order share one embedding pass;
2. find each document's ``k`` nearest neighbours with FAISS (exact search
   below ``exact_max`` documents, HNSW or IVF above);
3. optionally remove semantic near-duplicates (cosine >= ``dedup_threshold``)
   to ``_dropped/`` as ``semantic_duplicate``;
4. walk the undirected kNN graph greedily: start at an unvisited document of
   minimum degree, move to the most similar unvisited neighbour, jump to
   another minimum-degree document when stuck; every document exactly once;
5. cut the path into contexts of ``context_tokens`` tokens: rows are written
   in path order with ``context_id`` and ``position``, and output shards never
   split a context. A synthetic row (``provenance_column``, e.g. EntiGraph's
   ``source_id``) never shares a context with its source: it waits for the
   next context that fits it (:mod:`curate.icp.provenance`).

The manifest gets the ordering's quality: adjacent similarity against a random
order and against the top-1 neighbour ceiling, the share of adjacent pairs that
are kNN edges, jumps per thousand documents, repeats and missing (both 0).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.clock import Clock
from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF, ORDER, ORDER_KEY, OrderResult, OrderStage, StageParams

EMBEDDING = "embedding"
TOKENS = "_icp_tokens"
SOURCE = "_icp_source"
REASON = "semantic_duplicate"


class IcpReorderParams(StageParams):
    embedding_column: str | None = Field(
        None, description="Read each document's embedding from this column (written by an embed stage before this "
                          "one, e.g. 'embedding') instead of embedding again; embedder, model, max_tokens and the "
                          "actor options are then unused.")
    embedder: Literal["minilm", "hashing"] = Field(
        "minilm", description="minilm: all-MiniLM-L6-v2 sentence embeddings (the packaged model by default); "
                              "hashing: hashed word uni- and bigrams, no neural model, for very large CPU runs.")
    model: str | None = Field(None, description="minilm: a local model folder or Hugging Face id instead of the "
                                                "packaged all-MiniLM-L6-v2.")
    max_tokens: int = Field(256, gt=0, description="minilm: embed the first this many tokens of each document.")
    hashing_dim: int = Field(1024, gt=0, description="hashing: embedding dimension (more: fewer bucket collisions, "
                                                     "slower kNN).")
    k: int = Field(50, gt=0, description="Nearest neighbours per document (the paper: 50).")
    exact_max: int = Field(100_000, ge=0, description="Exact inner-product search up to this many documents; an "
                                                      "approximate index above.")
    index: Literal["hnsw", "ivf"] = Field("hnsw", description="Approximate index above exact_max.")
    hnsw_m: int = Field(32, gt=0, description="hnsw: links per node.")
    ef_search: int = Field(128, gt=0, description="hnsw: search depth (higher: better recall, slower).")
    nprobe: int = Field(16, gt=0, description="ivf: lists searched per query.")
    dedup_threshold: float | None = Field(
        None, gt=0, le=1, description="Remove documents whose cosine similarity to an earlier kept document is at "
                                      "least this (reason semantic_duplicate); none: keep all.")
    context_tokens: int = Field(8192, gt=0, description="Tokens per training context (the paper: 8192).")
    provenance_column: str | None = Field(
        "source_id", description="A row with a value in this column is synthetic, made from the row of that id "
                                 "(EntiGraph's source_id); it is kept out of its source's context, where the model "
                                 "would copy the facts instead of learning them. None: no such rule.")
    tokenizer: str = Field("estimate", description="How tokens are counted for packing: 'estimate' (about 4 "
                                                   "characters a token) or a local Hugging Face tokenizer folder.")
    keep_embeddings: bool = Field(False, description="Keep each document's embedding as the column 'embedding'.")
    seed: int = Field(0, description="Seed of the random order the metrics compare against.")
    batch_size: int = Field(64, gt=0, description="Documents per embedding batch.")
    num_cpus: float = Field(1.0, gt=0, description="CPUs per embedding actor (each runs one torch thread per CPU).")
    num_gpus: float | None = Field(None, ge=0, description="GPUs per embedding actor; default 1 when the cluster "
                                                           "has GPUs, else 0.")
    concurrency: int | None = Field(None, gt=0, description="Embedding actors; default: as many as fit.")


class IcpReorder(OrderStage[IcpReorderParams]):
    """Order documents so related ones share a training context (In-Context Pretraining)."""

    name = "icp_reorder"
    Params = IcpReorderParams

    def run(self, dataset: Any) -> OrderResult:
        import ray

        p = self.params
        clock = Clock()
        table = read_embeddings(dataset, p) if p.embedding_column else embed_dataset(dataset, p)
        clock.lap("embed")
        orders = table.column(ORDER).to_numpy()
        ids = table.column("id").to_pylist()
        tokens = table.column(TOKENS).to_numpy()
        vectors = embedding_matrix(table)
        sources = table.column(SOURCE).to_pylist() if SOURCE in table.column_names else None
        keys, stats = order_documents(vectors, orders, ids, tokens, p, clock, sources)
        if p.keep_embeddings:
            keys = keys.append_column(EMBEDDING, table.column(EMBEDDING))
        stats["seconds"] = clock.laps
        return OrderResult(keys=ray.data.from_arrow(keys), group_column="context_id", stats=stats)


def order_documents(vectors: np.ndarray, orders: np.ndarray, ids: list[str], tokens: np.ndarray,
                    p: IcpReorderParams, clock: Any = None, sources: list[str | None] | None = None
                    ) -> tuple[pa.Table, dict[str, Any]]:
    """The keys of an order stage from embeddings (rows sorted by ``_order``): no Ray needed.

    ``sources``: for each row, the id of the row it was made from (synthetic rows), else None.
    """
    from curate.icp.graph import build_graph
    from curate.icp.knn import knn
    from curate.icp.metrics import order_metrics
    from curate.icp.pack import pack_contexts
    from curate.icp.provenance import keep_apart, shared_contexts
    from curate.icp.traverse import greedy_path

    clock = clock or Clock()
    n = len(orders)
    neighbors, similarities = knn(vectors, p.k, exact_max=p.exact_max, index=p.index, hnsw_m=p.hnsw_m,
                                  ef_search=p.ef_search, nprobe=p.nprobe)
    clock.lap("knn")
    duplicate_of = semantic_duplicates(neighbors, similarities, p.dedup_threshold) if p.dedup_threshold else \
        np.full(n, -1, dtype=np.int64)
    kept = np.flatnonzero(duplicate_of < 0)
    sub_neighbors, sub_similarities = _restrict(neighbors, similarities, kept)
    graph = build_graph(sub_neighbors, sub_similarities)
    clock.lap("graph")
    path, jumps = greedy_path(graph)
    clock.lap("traverse")
    source_of = source_rows(ids, sources, kept)
    waited = 0
    if (source_of >= 0).any():
        path, context_id, position, waited = keep_apart(path, source_of, tokens[kept], p.context_tokens)
        placed = kept[path]
    else:
        placed = kept[path]  # input rows in path order
        context_id, position = pack_contexts(tokens[placed], p.context_tokens)
    rank = np.empty(n, dtype=np.int64)
    rank[placed] = np.arange(len(kept))
    dropped = np.flatnonzero(duplicate_of >= 0)
    rank[dropped] = len(kept) + np.arange(len(dropped))
    contexts = np.full(n, -1, dtype=np.int64)
    positions = np.full(n, -1, dtype=np.int64)
    contexts[placed] = context_id
    positions[placed] = position
    metrics = order_metrics(vectors[kept], path, sub_neighbors, p.seed)
    clock.lap("pack_and_metrics")
    columns: dict[str, Any] = {
        ORDER: pa.array(orders, pa.int64()), ORDER_KEY: pa.array(rank),
        "context_id": pa.array(np.where(contexts >= 0, contexts, None).tolist(), pa.int64()),
        "position": pa.array(np.where(positions >= 0, positions, None).tolist(), pa.int64()),
    }
    if len(dropped):
        reason = np.full(n, None, dtype=object)
        reason[dropped] = REASON
        columns[DROP_REASON] = pa.array(reason.tolist(), pa.string())
        columns[DUPLICATE_OF] = pa.array([ids[j] if j >= 0 else None for j in duplicate_of], pa.string())
        detail = [None] * n
        for i in dropped:
            detail[i] = f"cosine {float(vectors[i] @ vectors[duplicate_of[i]]):.3f} to {ids[duplicate_of[i]]}"
        columns[DROP_DETAIL] = pa.array(detail, pa.string())
    context_of = np.full(len(kept), -1, dtype=np.int64)
    context_of[path] = context_id
    stats = dict(metrics, documents=n, ordered=int(len(kept)), semantic_duplicates=int(len(dropped)),
                 synthetic_rows=int((source_of >= 0).sum()), synthetic_waited=waited,
                 synthetic_beside_source=shared_contexts(source_of, context_of),
                 contexts=int(context_id.max() + 1) if len(context_id) else 0, jumps=int(jumps), k=p.k,
                 knn="exact" if n <= p.exact_max else p.index,
                 embedder=f"column {p.embedding_column}" if p.embedding_column else p.embedder,
                 dimension=int(vectors.shape[1]) if vectors.ndim == 2 else 0)
    return pa.table(columns), stats


def source_rows(ids: list[str], sources: list[str | None] | None, kept: np.ndarray) -> np.ndarray:
    """For each kept row (renumbered 0..len(kept)-1), the kept row it was made from, or -1."""
    source_of = np.full(len(kept), -1, dtype=np.int64)
    if sources is None:
        return source_of
    index = {ids[row]: k for k, row in enumerate(kept.tolist())}
    for k, row in enumerate(kept.tolist()):
        parent = sources[row]
        if parent is not None and parent in index and index[parent] != k:
            source_of[k] = index[parent]
    return source_of


def semantic_duplicates(neighbors: np.ndarray, similarities: np.ndarray, threshold: float) -> np.ndarray:
    """For each document, the earlier kept document it nearly repeats (cosine >= threshold), or -1.

    Documents are taken in input order, so the first of a group is kept and the
    others point to a kept one.
    """
    n = len(neighbors)
    duplicate_of = np.full(n, -1, dtype=np.int64)
    close = (similarities >= threshold) & (neighbors >= 0) & (neighbors < np.arange(n)[:, None])
    for i in np.flatnonzero(close.any(axis=1)):
        for j in neighbors[i][close[i]]:
            if duplicate_of[j] < 0:
                duplicate_of[i] = j
                break
    return duplicate_of


def _restrict(neighbors: np.ndarray, similarities: np.ndarray, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour lists over the kept documents only, renumbered 0..len(kept)-1 (others become -1)."""
    if len(kept) == len(neighbors):
        return neighbors, similarities
    new_index = np.full(len(neighbors), -1, dtype=np.int64)
    new_index[kept] = np.arange(len(kept))
    sub = neighbors[kept]
    mapped = np.where(sub >= 0, new_index[np.maximum(sub, 0)], -1)
    return mapped, np.where(mapped >= 0, similarities[kept], -np.inf).astype(np.float32)


# ------------------------------------------------------------------ embedding on Ray


class _EmbedActor:
    """One embedder per actor (the model loaded once); returns order, id, token count and the embedding."""

    def __init__(self, params: IcpReorderParams) -> None:
        from curate.engine.cluster import assigned_cpus
        from curate.icp.embed import make_embedder

        options: dict[str, Any] = {"dim": params.hashing_dim} if params.embedder == "hashing" else {
            "model": params.model, "max_tokens": params.max_tokens, "threads": assigned_cpus(),
            "batch_size": params.batch_size}
        self.embedder = make_embedder(params.embedder, **options)
        self.counter = token_counter(params.tokenizer)
        self.provenance = params.provenance_column

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = [t or "" for t in batch.column("text").to_pylist()]
        vectors = np.ascontiguousarray(self.embedder.embed(texts), dtype=np.float32)
        flat = pa.array(vectors.reshape(-1))
        return with_source(pa.table({ORDER: batch.column(ORDER), "id": batch.column("id"),
                                     TOKENS: pa.array(self.counter(texts), pa.int64()),
                                     EMBEDDING: pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])}),
                           batch, self.provenance)


def with_source(out: pa.Table, batch: pa.Table, provenance: str | None) -> pa.Table:
    """``out`` with the batch's provenance column as ``_icp_source``, when there is one."""
    if provenance is None or provenance not in batch.column_names:
        return out
    return out.append_column(SOURCE, batch.column(provenance).cast(pa.string()))


def _columns(dataset: Any, wanted: list[str], provenance: str | None) -> list[str]:
    names = dataset.schema().names if dataset.schema() is not None else []
    return wanted + ([provenance] if provenance is not None and provenance in names else [])


def _stored_embeddings(batch: pa.Table, column: str, tokenizer: str, provenance: str | None = None) -> pa.Table:
    """Order, id, token count and the stored embedding of each row; a row without one is an error."""
    from curate.stages.embed import embedding_rows

    vectors, present = embedding_rows(batch, column, IcpReorder.name)
    if not present.all():
        raise ValueError(f"{IcpReorder.name}: {int((~present).sum())} documents have no embedding in {column!r} "
                         f"(rows created or added after the embed stage, e.g. {batch.column('id')[int(np.argmin(present))]}); "
                         "put the embed stage after every stage that creates or changes texts")
    texts = [t or "" for t in batch.column("text").to_pylist()]
    flat = pa.array(vectors.reshape(-1), pa.float32())
    return with_source(pa.table({ORDER: batch.column(ORDER), "id": batch.column("id"),
                                 TOKENS: pa.array(token_counter(tokenizer)(texts), pa.int64()),
                                 EMBEDDING: pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])}),
                       batch, provenance)


def read_embeddings(dataset: Any, p: IcpReorderParams) -> pa.Table:
    """The embeddings an earlier stage stored in ``p.embedding_column``, collected sorted by ``_order``."""
    import ray

    names = dataset.schema().names if dataset.schema() is not None else []
    if p.embedding_column not in names:
        raise ValueError(f"{IcpReorder.name}: needs the embedding column {p.embedding_column!r}; put an embed stage "
                         "before it (- embed: {}), or leave embedding_column unset to embed here")
    embedded = dataset.select_columns(_columns(dataset, [ORDER, "id", "text", p.embedding_column],
                                               p.provenance_column)).map_batches(
        _stored_embeddings, fn_kwargs={"column": p.embedding_column, "tokenizer": p.tokenizer,
                                       "provenance": p.provenance_column},
        batch_format="pyarrow", batch_size=p.batch_size * 16)
    blocks = ray.get(embedded.to_arrow_refs())
    return pa.concat_tables(blocks).sort_by(ORDER) if blocks else _empty_embeddings()


def _empty_embeddings() -> pa.Table:
    return pa.table({ORDER: pa.array([], pa.int64()), "id": pa.array([], pa.string()), TOKENS: pa.array([], pa.int64()),
                     EMBEDDING: pa.FixedSizeListArray.from_arrays(pa.array([], pa.float32()), 1)})


@lru_cache(maxsize=4)
def token_counter(tokenizer: str):
    """Token counts for packing: a fast estimate, or a local Hugging Face tokenizer (loaded once per process)."""
    if tokenizer == "estimate":
        from curate.icp.pack import estimate_tokens

        return lambda texts: np.asarray(estimate_tokens(texts), dtype=np.int64)
    from transformers import AutoTokenizer

    loaded = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    return lambda texts: np.array([len(ids) for ids in loaded(texts, add_special_tokens=False)["input_ids"]],
                                  dtype=np.int64)


def embed_dataset(dataset: Any, p: IcpReorderParams) -> pa.Table:
    """Embeddings of every row (an actor pool on Ray), collected sorted by ``_order``."""
    import ray

    from curate.engine import cluster

    gpus = p.num_gpus if p.num_gpus is not None else (1.0 if cluster.cluster_resources()["gpus"] > 0 else 0.0)
    cluster.check_fits(IcpReorder.name, p.num_cpus, gpus)
    pool = cluster.pool_size(p.num_cpus, gpus, p.concurrency)
    options: dict[str, Any] = {"num_cpus": p.num_cpus}
    if gpus:
        options["num_gpus"] = gpus
    embedded = dataset.select_columns(_columns(dataset, [ORDER, "id", "text"], p.provenance_column)).map_batches(
        _EmbedActor, fn_constructor_args=(p,), concurrency=(1, pool), batch_size=p.batch_size, batch_format="pyarrow",
        **options)
    blocks = ray.get(embedded.to_arrow_refs())
    return pa.concat_tables(blocks).sort_by(ORDER) if blocks else _empty_embeddings()


def embedding_matrix(table: pa.Table) -> np.ndarray:
    column = table.column(EMBEDDING).combine_chunks()
    size = column.type.list_size
    return np.ascontiguousarray(column.flatten().to_numpy(zero_copy_only=False).reshape(-1, size), dtype=np.float32)
