"""``exact_dedup``: drop documents whose normalised text is identical to another's."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field

from curate.stage import GlobalResult, GlobalStage, StageParams, mark_drops

HASH = "_exact_hash"
KEPT = "_exact_kept"
COUNT = "_exact_count"


class ExactDedupParams(StageParams):
    lowercase: bool = Field(True, description="Compare texts case-insensitively.")
    collapse_whitespace: bool = Field(True, description="Treat any run of whitespace as one space; ignore leading/trailing whitespace.")
    strip_punctuation: bool = Field(False, description="Ignore punctuation and symbols.")
    strip_digits: bool = Field(False, description="Ignore digits.")


def normalized_text(text: pa.ChunkedArray | pa.Array, params: ExactDedupParams) -> pa.ChunkedArray | pa.Array:
    """The text as compared: the normalisations switched on in ``params``."""
    text = pc.fill_null(text, "")
    if params.lowercase:
        text = pc.utf8_lower(text)
    if params.strip_punctuation:
        text = pc.replace_substring_regex(text, pattern=r"[\p{P}\p{S}]+", replacement="")
    if params.strip_digits:
        text = pc.replace_substring_regex(text, pattern=r"\p{N}+", replacement="")
    if params.collapse_whitespace:
        text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, pattern=r"\s+", replacement=" "))
    return text


def text_hashes(text: pa.ChunkedArray | pa.Array, params: ExactDedupParams) -> pa.Array:
    """128-bit xxh3 of each normalised text, as 32 hex digits."""
    digest = xxhash.xxh3_128_hexdigest
    return pa.array([digest(t.encode("utf-8")) for t in normalized_text(text, params).to_pylist()], pa.string())


class ExactDedup(GlobalStage):
    """Keep one document per normalised text: the one with the smallest ``id``.

    The others are dropped with reason ``exact_duplicate`` and ``duplicate_of``
    set to the kept document's id. Only hashes and ids are shuffled, never the
    texts.
    """

    name = "exact_dedup"
    Params = ExactDedupParams

    def add_hashes(self, batch: pa.Table) -> pa.Table:
        return batch.append_column(HASH, text_hashes(batch.column("text"), self.params))  # type: ignore[arg-type]

    def run(self, dataset):  # type: ignore[override]
        from ray.data.aggregate import Count, Min
        from ray.data.expressions import col

        hashed = dataset.map_batches(self.add_hashes, batch_format="pyarrow").materialize()
        groups = (
            hashed.select_columns([HASH, "id"])
            .groupby(HASH)
            .aggregate(Count(), Min("id"))
            .filter(expr=col("count()") > 1)
            .rename_columns({"count()": COUNT, "min(id)": KEPT})
            .materialize()
        )
        clusters = groups.count()
        if clusters == 0:
            marked = hashed.drop_columns([HASH])
            return GlobalResult(marked, {"duplicate_clusters": 0, "duplicates": 0})
        duplicates = int(groups.sum(COUNT)) - clusters
        partitions = max(1, min(64, hashed.num_blocks()))
        joined = hashed.join(groups, join_type="left_outer", num_partitions=partitions, on=(HASH,))
        marked = joined.map_batches(_mark_duplicates, batch_format="pyarrow")
        return GlobalResult(marked, {"duplicate_clusters": clusters, "duplicates": duplicates})


def _mark_duplicates(batch: pa.Table) -> pa.Table:
    kept = batch.column(KEPT)
    mask = pc.and_(pc.is_valid(kept), pc.not_equal(batch.column("id"), pc.fill_null(kept, "")))
    batch = mark_drops(batch, mask, "exact_duplicate", duplicate_of=kept)
    return batch.drop_columns([HASH, KEPT, COUNT])
