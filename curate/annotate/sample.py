"""A deterministic sample of the documents ``curate run`` would read.

The inputs go through :mod:`curate.io.reader`, so files, folders, globs,
JSONL and Parquet behave as in a run, and records the reader quarantines
(malformed JSON, empty text, ...) are counted, never sampled. The sample is
the documents with the smallest keys of ``seed`` and the id (the same key as
the ``max_documents`` subset of LM stages): it does not depend on file order
or on how many documents are read at once, and a larger sample contains a
smaller one with the same seed. Only ``size`` rows are held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.io.reader import ReaderConfig, read_file, resolve_inputs
from curate.stage import DROP_REASON, ORDER
from curate.stages.subset import selection_key

COLUMNS = ["id", "source", "text", ORDER]


@dataclass
class Sample:
    """The sampled documents (in input order) and what was read to choose them."""

    documents: pa.Table
    read: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)


def sample_documents(inputs: list[str], size: int | None, seed: int = 0,
                     reader: ReaderConfig | None = None) -> Sample:
    """Up to ``size`` documents of ``inputs`` (every readable document when ``size`` is None)."""
    reader = reader or ReaderConfig()
    kept: pa.Table | None = None
    read, quarantined = 0, {}
    for index, file in enumerate(resolve_inputs(inputs)):
        for batch in read_file(index, file, reader):
            read += batch.num_rows
            bad = pc.is_valid(batch.column(DROP_REASON))
            for reason in batch.column(DROP_REASON).filter(bad).to_pylist():
                quarantined[reason] = quarantined.get(reason, 0) + 1
            good = batch.filter(pc.invert(bad)).select(COLUMNS)
            keys = pa.array([selection_key(i, seed) for i in good.column("id").to_pylist()], pa.uint64())
            good = good.append_column("_key", keys)
            kept = good if kept is None else pa.concat_tables([kept, good])
            if size is not None and kept.num_rows > size:
                kept = _smallest(kept, size)
    if kept is None:
        kept = pa.table({"id": pa.array([], pa.string()), "source": pa.array([], pa.string()),
                         "text": pa.array([], pa.string()), ORDER: pa.array([], pa.int64())})
    else:
        kept = kept.sort_by(ORDER).drop_columns(["_key"])
    return Sample(kept, read, dict(sorted(quarantined.items())))


def _smallest(table: pa.Table, size: int) -> pa.Table:
    """The ``size`` rows with the smallest keys (ties: input order)."""
    keys = table.column("_key").to_numpy()
    order = table.column(ORDER).to_numpy()
    chosen = np.lexsort((order, keys))[:size]
    return table.take(pa.array(np.sort(chosen)))
