"""Near-duplicate removal with MinHash LSH, run on Ray Data.

Pipeline (every arrow is distributed; no process holds all signatures):

1. ``map_batches``: normalise, shingle and sign each batch; keep only the
   band keys (``bands`` x 8 bytes per document) and the keep-policy columns.
2. Band keys are hash-partitioned with a ``groupby``; each partition turns its
   buckets into star-shaped candidate edges, which are de-duplicated.
3. ``verify``: candidate edges are joined with both documents' text and their
   Jaccard recomputed (exact shingle sets, or signature estimate); pairs
   below ``threshold`` are dropped before clustering, so a chance collision
   never merges two unrelated families.
4. Connected components over verified edges (local for small graphs,
   otherwise large-star/small-star rounds of Ray Data group-bys).
5. Members are joined with their keep-policy values and grouped by component
   to choose the kept document. The stage returns only marks (``_order`` and
   the columns to set) for cluster members; the runner merges them into the
   documents, so texts never move for this step.

A signed corpus of at most ``local_max_bytes`` (256 MiB by default: about a
million short documents' band keys, or fewer with their texts) skips the
shuffles of steps 2-5: the same batch functions run once over the whole corpus
in the driver, which on a small run saves the seconds that each distributed
operation costs to start.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.clock import Clock
from curate.dedup.components import components_local, components_ray, partition_of
from curate.dedup.lsh import band_keys, bucket_edges, optimal_param, sorted_unique, unique_edges
from curate.dedup.minhash import Signer
from curate.dedup.shingle import ShingleConfig
from curate.dedup.verify import pair_similarity
from curate.stage import (
    DROP_DETAIL,
    DROP_REASON,
    DUPLICATE_OF,
    ORDER,
    GlobalResult,
    GlobalStage,
    StageParams,
)

if TYPE_CHECKING:  # pragma: no cover
    import ray.data

REASON = "near_duplicate"
_KEYS = "_mh_keys"
_RANK = "_mh_rank"
_KEEPER = "_mh_keeper"
_IS_DUP = "_mh_is_dup"
_SIZE = "_mh_size"
# annotate mode's columns; rows outside clusters get the defaults (null, False)
DUP_CLUSTER = "dup_cluster"
IS_DUPLICATE = "is_duplicate"


class MinHashDedup(GlobalStage):
    """Mark near-duplicate documents (MinHash LSH) and keep one per cluster."""

    name = "minhash_dedup"

    class Params(StageParams):
        unit: Literal["word", "char"] = Field("word", description="Shingle unit: word n-grams or character n-grams.")
        ngram: int = Field(5, ge=1, description="Shingle length n, in words or characters.")
        num_perm: int = Field(128, ge=2, le=1024, description="Number of MinHash permutations (signature length).")
        threshold: float = Field(0.8, gt=0.0, lt=1.0, description="Jaccard similarity above which documents are near-duplicates; also chooses bands x rows unless given.")
        weights: tuple[float, float] = Field((0.05, 0.95), description="(false positive, false negative) weights for choosing bands x rows from threshold, as in datasketch's MinHashLSH; the default favours recall because verify removes false candidates.")
        bands: int | None = Field(None, ge=1, description="LSH bands; with rows, overrides the choice made from threshold.")
        rows: int | None = Field(None, ge=1, description="Rows per LSH band; set together with bands.")
        seed: int = Field(1, ge=0, description="Seed of the permutations (and of the fast scheme's hashing).")
        scheme: Literal["fast", "datasketch"] = Field("fast", description="Signature scheme: one-permutation hashing ('fast') or datasketch-identical signatures ('datasketch').")
        lowercase: bool = Field(True, description="Lowercase text before shingling.")
        punctuation: bool = Field(True, description="Replace Unicode punctuation and symbols by spaces before shingling.")
        digits: bool = Field(True, description="Replace every run of digits by '0' before shingling.")
        whitespace: bool = Field(True, description="Collapse whitespace runs to one space (character shingles; word shingles always split on whitespace).")
        verify: Literal["exact", "estimate", "none"] = Field("exact", description="Check each candidate pair before clustering: exact shingle Jaccard, signature estimate, or not at all.")
        keep: Literal["smallest_id", "longest", "highest_score"] = Field("smallest_id", description="Which document of a cluster is kept.")
        score_column: str | None = Field(None, description="Numeric column whose highest value is kept when keep is highest_score.")
        mode: Literal["drop", "annotate"] = Field("drop", description="drop: mark duplicates for removal; annotate: add dup_cluster and is_duplicate columns only.")
        max_piece_bytes: int = Field(1 << 20, ge=1 << 14, description="Longer documents are shingled in overlapping pieces of this size (all shingles count; memory stays bounded).")
        num_partitions: int | None = Field(None, ge=1, description="Shuffle partitions for buckets, edges and clusters; default grows with the corpus (about 4 M band rows or 256 MiB each).")
        broadcast_max_rows: int = Field(2_000_000, ge=0, description="When candidate pairs have at most this many endpoints, their ids are shipped to every worker so that only those documents' texts are shuffled for verification.")
        local_components_max_edges: int = Field(5_000_000, ge=0, description="Verified graphs with at most this many edges get connected components in one process; larger ones run distributed.")
        batch_size: int = Field(1024, ge=1, description="Documents per signing batch.")
        local_max_bytes: int = Field(256 << 20, ge=0, description="When the signed corpus (band keys, and texts to verify) takes at most this many bytes, candidates, verification, components and keepers are computed in one process (the same functions, without shuffles); larger corpora run distributed.")

        @model_validator(mode="after")
        def _check(self) -> MinHashDedup.Params:
            if (self.bands is None) != (self.rows is None):
                raise ValueError("set both bands and rows, or neither")
            if self.bands is not None and self.bands * self.rows > self.num_perm:
                raise ValueError("bands * rows must not exceed num_perm")
            if min(self.weights) < 0 or abs(sum(self.weights) - 1.0) > 1e-9:
                raise ValueError("weights must be two non-negative numbers summing to 1")
            if self.keep == "highest_score" and not self.score_column:
                raise ValueError("keep: highest_score needs score_column")
            return self

    # ------------------------------------------------------------------ pieces
    def signer(self) -> Signer:
        p = self.params
        shingles = ShingleConfig(unit=p.unit, n=p.ngram, lowercase=p.lowercase, punctuation=p.punctuation,
                                 digits=p.digits, whitespace=p.whitespace, max_piece_bytes=p.max_piece_bytes)
        return Signer(scheme=p.scheme, num_perm=p.num_perm, seed=p.seed, shingles=shingles)

    def band_shape(self) -> tuple[int, int]:
        p = self.params
        if p.bands is not None:
            return p.bands, p.rows
        return optimal_param(p.threshold, p.num_perm, *p.weights)

    # --------------------------------------------------------------------- run
    def run(self, dataset: ray.data.Dataset) -> GlobalResult:
        """Marks for cluster members (see :func:`_to_marks`); rows outside clusters get no mark."""
        from ray.data.context import ShuffleStrategy

        p = self.params
        signer, (bands, rows) = self.signer(), self.band_shape()
        clock = Clock()
        base = dataset.map_batches(_featurize, batch_format="pyarrow", batch_size=p.batch_size,
                                   fn_kwargs={"signer": signer, "bands": bands, "rows": rows, "keep": p.keep,
                                              "score_column": p.score_column,
                                              "with_text": p.verify != "none"})
        # Sort-based shuffles run as plain tasks (no actor pool to start per
        # operation), which keeps the many small group-bys of this stage cheap.
        # Datasets derived from ``base`` inherit this copy of the context.
        base.context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
        base = base.materialize()
        n_docs = base.count()
        schema = base.schema()
        order_type = schema.base_schema.field(ORDER).type if schema is not None and n_docs else pa.int64()
        defaults = {IS_DUPLICATE: False} if p.mode == "annotate" else {}
        size = base.size_bytes() or 0
        if size <= p.local_max_bytes:
            return self._run_local(base, signer, order_type, defaults, clock)
        n_signed = int(base.sum("_mh_signed") or 0) if n_docs else 0
        # about 4 M band rows and at most ~256 MiB of corpus per shuffle partition
        parts = p.num_partitions or max(2, math.ceil(n_signed * bands / 4_000_000), math.ceil(size / (256 << 20)))
        clock.lap("sign")
        stats = self._sign_stats(n_docs, n_signed, parts)
        n_cand = n_ver = 0
        if n_signed > 1:
            candidates = self._candidates(base, parts)
            n_cand = candidates.count()
            clock.lap("candidates")
            verified = candidates
            if n_cand and p.verify != "none":
                verified = self._verify(candidates, base, signer, parts, n_cand)
            n_ver = verified.count() if n_cand else 0
            clock.lap("verify")
        stats.update(_pair_stats(n_cand, n_ver))
        if n_ver == 0:
            return self._nothing_found(stats, clock, order_type, defaults)

        members, how = self._components(verified, n_ver, parts)
        clock.lap("components")
        assign = self._assign(members, base, parts).materialize()
        n_members = assign.count()
        n_dup = int(assign.sum(_IS_DUP) or 0)
        clock.lap("keepers")
        stats.update(self._cluster_stats(how, n_members, n_dup), seconds=clock.laps)
        marks = assign.map_batches(_to_marks, batch_format="pyarrow",
                                   fn_kwargs={"mode": p.mode, "order_type": order_type})
        return GlobalResult(marks=marks, stats=stats, defaults=defaults)

    def _run_local(self, base, signer: Signer, order_type: pa.DataType, defaults: dict[str, Any],
                   clock: Clock) -> GlobalResult:
        """The steps after signing on one process: the batch functions of the distributed path applied to the
        whole signed corpus at once (one partition), so both paths give the same marks."""
        import ray
        import ray.data

        p = self.params
        tables = [t for t in ray.get(base.to_arrow_refs()) if t.num_rows]
        table = pa.concat_tables(tables, promote_options="default") if tables else None
        n_docs = table.num_rows if table is not None else 0
        n_signed = int(pc.sum(table.column("_mh_signed")).as_py() or 0) if table is not None else 0
        clock.lap("sign")
        stats = self._sign_stats(n_docs, n_signed, 1)
        if table is None or n_signed < 2:
            stats.update(_pair_stats(0, 0))
            return self._nothing_found(stats, clock, order_type, defaults)
        candidates = _dedupe_edges(_bucket_edges(_explode_keys(table, 1), 1))
        clock.lap("candidates")
        verified = candidates
        if candidates.num_rows and p.verify != "none":
            docs = table.select([ORDER, "text"])
            joined = _attach_text(_attach_text(candidates, docs, "lo"), docs, "hi")
            verified = _check_pairs(joined, signer, p.threshold, p.verify == "exact")
        clock.lap("verify")
        stats.update(_pair_stats(candidates.num_rows, verified.num_rows))
        if verified.num_rows == 0:
            return self._nothing_found(stats, clock, order_type, defaults)
        nodes, roots = components_local(verified.column("lo").to_numpy(), verified.column("hi").to_numpy())
        members = pa.table({"node": pa.array(nodes).cast(table.schema.field(ORDER).type), "root": roots})
        clock.lap("components")
        assign = _choose_keepers(_attach_rank(members, table.select([ORDER, "id", _RANK])), p.keep)
        n_dup = int(pc.sum(assign.column(_IS_DUP)).as_py() or 0)
        clock.lap("keepers")
        stats.update(self._cluster_stats("local", assign.num_rows, n_dup), seconds=clock.laps)
        return GlobalResult(marks=ray.data.from_arrow(_to_marks(assign, p.mode, order_type)), stats=stats,
                            defaults=defaults)

    # ------------------------------------------------------------------- stats
    def _sign_stats(self, n_docs: int, n_signed: int, parts: int) -> dict[str, Any]:
        p = self.params
        bands, rows = self.band_shape()
        return {"documents": n_docs, "documents_without_shingles": n_docs - n_signed, "scheme": p.scheme,
                "num_perm": p.num_perm, "bands": bands, "rows": rows, "threshold": p.threshold, "verify": p.verify,
                "partitions": parts}

    def _cluster_stats(self, how: str, n_members: int, n_dup: int) -> dict[str, Any]:
        return {"components": how, "clusters": n_members - n_dup, "documents_in_clusters": n_members,
                "documents_removed": n_dup if self.params.mode == "drop" else 0, "documents_marked_duplicate": n_dup}

    def _nothing_found(self, stats: dict[str, Any], clock: Clock, order_type: pa.DataType,
                       defaults: dict[str, Any]) -> GlobalResult:
        stats.update(clusters=0, documents_in_clusters=0, documents_removed=0, components="none", seconds=clock.laps)
        return GlobalResult(marks=_no_marks(self.params.mode, order_type), stats=stats, defaults=defaults)

    def _candidates(self, base, parts: int):
        keys = base.select_columns([ORDER, _KEYS]).map_batches(_explode_keys, batch_format="pyarrow",
                                                              fn_kwargs={"parts": parts})
        edges = keys.groupby("_part", num_partitions=parts).map_groups(_bucket_edges, batch_format="pyarrow",
                                                                       fn_kwargs={"parts": parts})
        # the same pair can come out of several bands: de-duplicate by its smaller node
        return (edges.groupby("_part", num_partitions=parts)
                .map_groups(_dedupe_edges, batch_format="pyarrow").materialize())

    def _verify(self, candidates, base, signer: Signer, parts: int, n_cand: int):
        import ray

        docs = base.select_columns([ORDER, "text"])
        if 2 * n_cand <= self.params.broadcast_max_rows:
            # only documents on some candidate edge need to travel
            edges = pa.concat_tables(ray.get(candidates.to_arrow_refs()))
            nodes = sorted_unique(np.concatenate([edges.column("lo").to_numpy(), edges.column("hi").to_numpy()]))
            docs = docs.map_batches(_keep_nodes, batch_format="pyarrow",
                                    fn_kwargs={"nodes": ray.put(nodes)}).materialize()
        half = _cogroup(candidates, docs, "lo", ORDER, parts, _attach_text, {"side": "lo"}).materialize()
        full = _cogroup(half, docs, "hi", ORDER, parts, _attach_text, {"side": "hi"})
        return full.map_batches(_check_pairs, batch_format="pyarrow",
                                fn_kwargs={"signer": signer, "threshold": self.params.threshold,
                                           "exact": self.params.verify == "exact"}).materialize()

    def _components(self, verified, n_edges: int, parts: int):
        import ray

        if n_edges <= self.params.local_components_max_edges:
            table = pa.concat_tables(ray.get(verified.select_columns(["lo", "hi"]).to_arrow_refs()))
            nodes, roots = components_local(table.column("lo").to_numpy(), table.column("hi").to_numpy())
            members = ray.data.from_arrow(pa.table({"node": nodes, "root": roots}))
            members.context.shuffle_strategy = verified.context.shuffle_strategy
            return members, "local"
        stars = components_ray(verified.select_columns(["lo", "hi"]), parts)
        return stars.map_batches(_star_members, batch_format="pyarrow"), "distributed"

    def _assign(self, members, base, parts: int):
        ranks = base.select_columns([ORDER, "id", _RANK])
        ranked = _cogroup(members, ranks, "node", ORDER, parts, _attach_rank, {})
        keyed = ranked.map_batches(_add_part, batch_format="pyarrow", fn_kwargs={"column": "root", "parts": parts})
        return keyed.groupby("_part", num_partitions=parts).map_groups(_choose_keepers, batch_format="pyarrow",
                                                                       fn_kwargs={"keep": self.params.keep})


def _pair_stats(n_cand: int, n_ver: int) -> dict[str, Any]:
    return {"candidate_pairs": n_cand, "verified_pairs": n_ver, "false_positives_removed": n_cand - n_ver,
            "false_positive_rate": round((n_cand - n_ver) / n_cand, 6) if n_cand else 0.0}


def _cogroup(left, right, left_key: str, right_key: str, parts: int, fn, kwargs: dict):
    """Bring rows of two Datasets with equal keys into one group (a join built on
    a sort-shuffle group-by): ``fn(left_rows, right_rows, **kwargs)`` per partition."""
    lschema, rschema = left.schema().base_schema, right.schema().base_schema
    schema = pa.unify_schemas([lschema, rschema]).append(pa.field("_side", pa.int8())).append(pa.field("_part", pa.int64()))
    tag = {"batch_format": "pyarrow"}
    tagged_l = left.map_batches(_tag, **tag, fn_kwargs={"key": left_key, "side": 0, "parts": parts, "schema": schema})
    tagged_r = right.map_batches(_tag, **tag, fn_kwargs={"key": right_key, "side": 1, "parts": parts, "schema": schema})
    return (tagged_l.union(tagged_r).groupby("_part", num_partitions=parts)
            .map_groups(_split_sides, batch_format="pyarrow",
                        fn_kwargs={"fn": fn, "kwargs": kwargs, "lcols": lschema.names, "rcols": rschema.names}))


def _tag(batch: pa.Table, key: str, side: int, parts: int, schema: pa.Schema) -> pa.Table:
    n = batch.num_rows
    columns = {}
    for field in schema:
        if field.name == "_side":
            columns[field.name] = pa.array(np.full(n, side, np.int8))
        elif field.name == "_part":
            columns[field.name] = pa.array(partition_of(batch.column(key).to_numpy(), parts))
        elif field.name in batch.column_names:
            columns[field.name] = batch.column(field.name).cast(field.type)
        else:
            columns[field.name] = pa.nulls(n, field.type)
    return pa.table(columns, schema=schema)


def _split_sides(batch: pa.Table, fn, kwargs: dict, lcols: list[str], rcols: list[str]) -> pa.Table:
    side = batch.column("_side").to_numpy()
    left = batch.filter(pa.array(side == 0)).select(lcols)
    right = batch.filter(pa.array(side == 1)).select(rcols)
    return fn(left, right, **kwargs)


# ------------------------------------------------------------- batch functions
# Module-level so Ray pickles them by reference.

def _featurize(batch: pa.Table, signer: Signer, bands: int, rows: int, keep: str, score_column: str | None,
               with_text: bool) -> pa.Table:
    """Band keys and keep-policy rank per document, with ``_order``, ``id`` and (to verify) ``text`` only."""
    if ORDER not in batch.column_names:
        raise ValueError(f"minhash_dedup needs the {ORDER!r} column the runner adds")
    text = batch.column("text")
    result = signer.sign(text)
    signed = result.shingle_counts > 0
    keys = band_keys(result.sig, bands, rows, seed=signer.seed)
    n = batch.num_rows
    offsets = np.zeros(n + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(np.where(signed, bands, 0))
    flat = pa.array(keys[signed].ravel(), pa.uint64())
    if keep == "longest":
        rank = pc.utf8_length(pc.fill_null(text, "")).cast(pa.float64())
    elif keep == "highest_score":
        rank = pc.cast(batch.column(score_column), pa.float64())
    else:
        rank = pa.nulls(n, pa.float64())
    # only what later steps read: other columns never enter the materialised features
    columns = {ORDER: batch.column(ORDER), "id": batch.column("id")}
    if with_text:
        columns["text"] = text
    columns.update({_KEYS: pa.ListArray.from_arrays(pa.array(offsets), flat),
                    "_mh_signed": pa.array(signed.astype(np.int64)), _RANK: rank})
    return pa.table(columns)


def _keep_nodes(batch: pa.Table, nodes) -> pa.Table:
    import ray

    nodes = ray.get(nodes) if not isinstance(nodes, np.ndarray) else nodes
    order = batch.column(ORDER).to_numpy()
    pos = np.minimum(np.searchsorted(nodes, order), max(len(nodes) - 1, 0))
    return batch.filter(pa.array(nodes[pos] == order if len(nodes) else np.zeros(len(order), bool)))


def _explode_keys(batch: pa.Table, parts: int) -> pa.Table:
    keys = batch.column(_KEYS)
    lengths = pc.list_value_length(keys).fill_null(0).to_numpy()
    node = np.repeat(batch.column(ORDER).to_numpy(), lengths)
    flat = pc.list_flatten(keys).to_numpy()
    return pa.table({"key": pa.array(flat, pa.uint64()), "node": node, "_part": partition_of(flat, parts)})


def _bucket_edges(batch: pa.Table, parts: int) -> pa.Table:
    lo, hi = bucket_edges(batch.column("key").to_numpy(), batch.column("node").to_numpy())
    return pa.table({"lo": lo, "hi": hi, "_part": partition_of(lo, parts)})


def _dedupe_edges(batch: pa.Table) -> pa.Table:
    lo, hi = unique_edges(batch.column("lo").to_numpy(), batch.column("hi").to_numpy())
    return pa.table({"lo": lo, "hi": hi})


def _attach_text(edges: pa.Table, docs: pa.Table, side: str) -> pa.Table:
    joined = edges.join(docs.rename_columns([side, f"_text_{side}"]), keys=side, join_type="inner")
    return joined.combine_chunks()


def _attach_rank(members: pa.Table, ranks: pa.Table) -> pa.Table:
    ranks = ranks.rename_columns(["node" if c == ORDER else c for c in ranks.column_names])
    return members.join(ranks, keys="node", join_type="inner")


def _check_pairs(batch: pa.Table, signer: Signer, threshold: float, exact: bool) -> pa.Table:
    sim = pair_similarity(signer, batch.column("_text_lo"), batch.column("_text_hi"), exact)
    keep = sim >= threshold
    return pa.table({"lo": batch.column("lo").filter(keep), "hi": batch.column("hi").filter(keep),
                     "jaccard": pa.array(sim[keep])})


def _star_members(batch: pa.Table) -> pa.Table:
    lo, hi = batch.column("lo").to_numpy(), batch.column("hi").to_numpy()
    return pa.table({"node": np.concatenate([hi, lo]), "root": np.concatenate([lo, lo])})


def _add_part(batch: pa.Table, column: str, parts: int) -> pa.Table:
    return batch.append_column("_part", pa.array(partition_of(batch.column(column).to_numpy(), parts)))


def _choose_keepers(batch: pa.Table, keep: str) -> pa.Table:
    """Per component (``root``), the kept document by policy, ties to the smallest id."""
    order = [("root", "ascending")]
    if keep != "smallest_id":
        order.append((_RANK, "descending"))
    order.append(("id", "ascending"))
    # a root appears once per star edge in the distributed path: keep one row per node
    t = batch.select(["node", "root", "id", _RANK]).sort_by([("node", "ascending")])
    node = t.column("node").to_numpy()
    t = t.filter(pa.array(np.r_[True, node[1:] != node[:-1]] if len(node) else np.zeros(0, bool)))
    t = t.sort_by(order)
    root = t.column("root").to_numpy()
    first = np.r_[True, root[1:] != root[:-1]] if len(root) else np.zeros(0, bool)
    head = np.maximum.accumulate(np.where(first, np.arange(len(root)), 0))
    keeper = pc.take(t.column("id"), pa.array(head))
    starts = np.flatnonzero(first)
    size = np.diff(np.r_[starts, len(root)])[np.cumsum(first) - 1] if len(root) else np.zeros(0, np.int64)
    return pa.table({ORDER: t.column("node"), _KEEPER: keeper, _IS_DUP: pa.array((~first).astype(np.int64)),
                     _SIZE: pa.array(size, pa.int64())})


def _marks_schema(mode: str, order_type: pa.DataType) -> pa.Schema:
    if mode == "annotate":
        return pa.schema([(ORDER, order_type), (DUP_CLUSTER, pa.string()), (IS_DUPLICATE, pa.bool_())])
    return pa.schema([(ORDER, order_type), (DROP_REASON, pa.string()), (DROP_DETAIL, pa.string()),
                      (DUPLICATE_OF, pa.string())])


def _to_marks(batch: pa.Table, mode: str, order_type: pa.DataType) -> pa.Table:
    """Marks from keeper decisions (``_order``, kept id, is-duplicate flag, cluster size).

    ``drop``: one mark per removed document (reason, ``cluster of N, kept <id>``,
    kept id). ``annotate``: one mark per cluster member (kept id, flag).
    """
    is_dup = pa.array(batch.column(_IS_DUP).to_numpy().astype(bool))
    order = batch.column(ORDER).cast(order_type)
    keeper = batch.column(_KEEPER).cast(pa.string())
    schema = _marks_schema(mode, order_type)
    if mode == "annotate":
        return pa.table([order, keeper, is_dup], schema=schema)
    keeper = keeper.filter(is_dup)
    n = len(keeper)
    detail = pc.binary_join_element_wise(pa.array(["cluster of "] * n, pa.string()),
                                         batch.column(_SIZE).filter(is_dup).cast(pa.string()),
                                         pa.array([", kept "] * n, pa.string()), keeper, "")
    return pa.table([order.filter(is_dup), pa.array([REASON] * n, pa.string()), detail, keeper], schema=schema)


def _no_marks(mode: str, order_type: pa.DataType):
    """An empty marks Dataset that still has the marks' columns."""
    import ray.data

    return ray.data.from_arrow(_marks_schema(mode, order_type).empty_table())
