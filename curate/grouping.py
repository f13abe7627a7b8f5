"""Finding rows that share a key, keeping one per group: used for repeated ids and exact duplicates."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

KEPT = "_kept"
COUNT = "_count"


# Up to this many rows, groups are found in one process: a Ray Data group-by and
# join cost seconds of fixed overhead, a pyarrow group-by of a few million small
# rows well under a second.
LOCAL_MAX_ROWS = 5_000_000


def later_duplicates(keys: Any, key: str, keep: str, local_max_rows: int = LOCAL_MAX_ROWS) -> tuple[Any, int, int]:
    """Rows of ``keys`` whose ``key`` another row shares, except each group's smallest ``keep``.

    ``keys`` is a Ray Dataset of small columns (never texts). Returns the
    duplicate rows (a Dataset) with a ``_kept`` column (the group's smallest
    ``keep``), the number of groups with duplicates and the number of
    duplicate rows. Small inputs are grouped in one process; larger ones with
    Ray Data, where only groups of two or more rows take part in the join back.
    """
    import ray

    keys = keys.materialize()
    if keys.count() <= local_max_rows:
        blocks = ray.get(keys.to_arrow_refs())
        # parts with and without rows created by an expand stage can differ in nullability
        table = pa.concat_tables(blocks, promote_options="permissive") if blocks else None
        if table is not None and table.num_rows:
            later, clusters, duplicates = later_duplicates_local(table, key, keep)
            return ray.data.from_arrow(later), clusters, duplicates
    return _later_duplicates_ray(keys, key, keep)


def later_duplicates_local(table: pa.Table, key: str, keep: str) -> tuple[pa.Table, int, int]:
    """:func:`later_duplicates` over an in-memory table."""
    groups = table.group_by(key).aggregate([(keep, "min"), (keep, "count")])
    groups = groups.filter(pc.greater(groups.column(f"{keep}_count"), 1))
    clusters = groups.num_rows
    duplicates = int(pc.sum(groups.column(f"{keep}_count")).as_py() or 0) - clusters
    groups = groups.select([key, f"{keep}_min"]).rename_columns([key, KEPT])
    if clusters == 0:
        return _add_kept(table.slice(0, 0), keep), 0, 0
    joined = table.join(groups, keys=key, join_type="inner")
    later = joined.filter(pc.not_equal(joined.column(keep), joined.column(KEPT).cast(table.schema.field(keep).type)))
    return later, clusters, duplicates


def _later_duplicates_ray(keys: Any, key: str, keep: str) -> tuple[Any, int, int]:
    from ray.data.aggregate import Count, Min
    from ray.data.expressions import col

    groups = (
        keys.groupby(key)
        .aggregate(Count(), Min(keep))
        .filter(expr=col("count()") > 1)
        .rename_columns({"count()": COUNT, f"min({keep})": KEPT})
        .materialize()
    )
    clusters = groups.count()
    if clusters == 0:
        return keys.limit(0).map_batches(_add_kept, fn_kwargs={"keep": keep}, batch_format="pyarrow"), 0, 0
    duplicates = int(groups.sum(COUNT)) - clusters
    partitions = max(1, min(64, keys.num_blocks()))
    # Ray Data's join starts helper actors of 0.25 CPU each; on nodes of 1 CPU they
    # would leave no node a whole CPU for the join's own tasks, which then wait forever.
    joined = keys.join(groups, join_type="inner", num_partitions=partitions, on=(key,),
                       aggregator_ray_remote_args={"num_cpus": 0})
    later = joined.map_batches(_not_kept, fn_kwargs={"keep": keep}, batch_format="pyarrow")
    return later, clusters, duplicates


def _not_kept(batch: pa.Table, keep: str) -> pa.Table:
    kept = batch.column(KEPT)
    batch = batch.filter(pc.not_equal(batch.column(keep), kept.cast(batch.schema.field(keep).type)))
    return batch.drop_columns([COUNT])


def _add_kept(batch: pa.Table, keep: str) -> pa.Table:
    return batch.append_column(KEPT, pa.nulls(batch.num_rows, batch.schema.field(keep).type))
