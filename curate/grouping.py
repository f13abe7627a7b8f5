"""Finding rows that share a key, keeping one per group: used for repeated ids and exact duplicates."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

KEPT = "_kept"
COUNT = "_count"


def later_duplicates(keys: Any, key: str, keep: str) -> tuple[Any, int, int]:
    """Rows of ``keys`` whose ``key`` another row shares, except each group's smallest ``keep``.

    ``keys`` is a Ray Dataset of small columns (never texts). Returns the
    duplicate rows with a ``_kept`` column (the group's smallest ``keep``), the
    number of groups with duplicates and the number of duplicate rows. Only
    groups of two or more rows take part in the join back to the rows.
    """
    from ray.data.aggregate import Count, Min
    from ray.data.expressions import col

    keys = keys.materialize()
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
    joined = keys.join(groups, join_type="inner", num_partitions=partitions, on=(key,))
    later = joined.map_batches(_not_kept, fn_kwargs={"keep": keep}, batch_format="pyarrow")
    return later, clusters, duplicates


def _not_kept(batch: pa.Table, keep: str) -> pa.Table:
    kept = batch.column(KEPT)
    batch = batch.filter(pc.not_equal(batch.column(keep), kept.cast(batch.schema.field(keep).type)))
    return batch.drop_columns([COUNT])


def _add_kept(batch: pa.Table, keep: str) -> pa.Table:
    return batch.append_column(KEPT, pa.nulls(batch.num_rows, batch.schema.field(keep).type))
