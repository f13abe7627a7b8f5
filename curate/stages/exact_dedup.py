"""``exact_dedup``: drop documents whose normalised text is identical to another's."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field

from curate.grouping import KEPT, later_duplicates
from curate.stage import DROP_REASON, DUPLICATE_OF, ORDER, GlobalResult, GlobalStage, StageParams

HASH = "_exact_hash"


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
    """128-bit xxh3 of each normalised text, as 16 bytes."""
    digest = xxhash.xxh3_128_digest
    return pa.array([digest(t.encode("utf-8")) for t in normalized_text(text, params).to_pylist()], pa.binary())


class ExactDedup(GlobalStage[ExactDedupParams]):
    """Keep one document per normalised text: the one with the smallest ``id``.

    The others are dropped with reason ``exact_duplicate`` and ``duplicate_of``
    set to the kept document's id. Only hashes and ids are shuffled, never the
    texts.
    """

    name = "exact_dedup"
    Params = ExactDedupParams
    columns = ("id", ORDER, HASH)

    def features(self, batch: pa.Table) -> dict[str, pa.Array]:
        return {HASH: text_hashes(batch.column("text"), self.params)}

    def run(self, dataset: Any) -> GlobalResult:
        schema = dataset.schema()
        if schema is not None and HASH in schema.names:  # computed in the pass before this stage
            keys = dataset.select_columns(["id", ORDER, HASH])
        else:
            keys = dataset.map_batches(self.key_columns, batch_format="pyarrow")
        later, clusters, duplicates = later_duplicates(keys, HASH, "id")
        marks = later.map_batches(_duplicate_marks, batch_format="pyarrow")
        return GlobalResult(marks=marks, stats={"duplicate_clusters": clusters, "duplicates": duplicates})

    def key_columns(self, batch: pa.Table) -> pa.Table:
        """Only what deciding needs: hash, id, position."""
        return pa.table({HASH: text_hashes(batch.column("text"), self.params),
                         "id": batch.column("id"), ORDER: batch.column(ORDER)})


def _duplicate_marks(batch: pa.Table) -> pa.Table:
    n = batch.num_rows
    return pa.table({ORDER: batch.column(ORDER), DROP_REASON: pa.array(["exact_duplicate"] * n, pa.string()),
                     DUPLICATE_OF: batch.column(KEPT).cast(pa.string())})
