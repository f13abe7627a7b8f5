"""The last pass: kept rows into output shards, every drop into ``_dropped/``.

Each generation contributes the rows dropped inside it (by the step that wrote
it or by a global stage's marks on top of it); the last generation also gives
the kept rows, in order. Parts are read by Ray tasks a few at a time while the
driver writes, so reading overlaps with compression.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.engine.snapshot import Generation, PartView, read_view
from curate.io.writer import (
    DROPPED_SCHEMA,
    ShardWriter,
    WriterConfig,
    conform,
    dropped_table,
    output_schema,
    unified_schema,
)
from curate.stage import DROP_REASON, ORDER

IN_FLIGHT = 4


def _split(view: PartView, keep_rows: bool) -> tuple[pa.Table | None, pa.Table | None]:
    table = read_view(view, kept_only=False)
    if DROP_REASON not in table.column_names:
        return (table if keep_rows else None), None
    dropped = pc.is_valid(table.column(DROP_REASON))
    kept = table.filter(pc.invert(dropped)) if keep_rows else None
    gone = table.filter(dropped)
    return kept, (dropped_table(gone) if gone.num_rows else None)


def _split_all(views: list[PartView], keep_rows: bool) -> Iterator[tuple[pa.Table | None, pa.Table | None]]:
    """Parts split into kept and dropped rows, in order, ``IN_FLIGHT`` read ahead on Ray."""
    import ray

    task = ray.remote(_split).options(num_cpus=1, max_retries=3)
    pending = [task.remote(view, keep_rows) for view in views[:IN_FLIGHT]]
    for i in range(len(views)):
        result = ray.get(pending[i])
        pending[i] = None
        if i + IN_FLIGHT < len(views):
            pending.append(task.remote(views[i + IN_FLIGHT], keep_rows))
        yield result


def final_schema(generation: Generation, leave_out: tuple[str, ...] = ()) -> pa.Schema | None:
    """The output shards' schema; ``leave_out``: stages' working columns (see ``Stage.working_columns``)."""
    files = generation.parts() + [f for layer in generation.layers for f in layer.files()]
    schema = unified_schema(files)
    if schema is None:
        return None
    for layer in generation.layers:
        for name, value in layer.defaults.items():
            if name not in schema.names:
                schema = schema.append(pa.field(name, pa.scalar(value).type))
    schema = output_schema(schema)
    return pa.schema([f for f in schema if f.name not in leave_out])


def write(generations: list[Generation], folder: str, config: WriterConfig, group_column: str | None,
          leave_out: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Write the output shards and the dropped-documents table; returns both shard lists."""
    last = generations[-1]
    schema = final_schema(last, leave_out)
    kept_writer = ShardWriter(folder, schema, config, group_column=group_column) if schema is not None else None
    dropped_writer = ShardWriter(os.path.join(folder, "_dropped"), DROPPED_SCHEMA, config)
    try:
        for generation in generations:
            is_last = generation is last
            for kept, dropped in _split_all(generation.views(), keep_rows=is_last):
                if dropped is not None:
                    dropped_writer.write(dropped)
                if kept is not None and kept.num_rows and kept_writer is not None:
                    kept_writer.write(conform(kept.sort_by(ORDER), schema))
        shards = kept_writer.close() if kept_writer is not None else []
        return shards, dropped_writer.close()
    except BaseException:
        # a failed pass (a full disk, Ctrl-C) leaves no shard behind: an output folder holds a whole output or none
        for writer in (kept_writer, dropped_writer):
            if writer is not None:
                with contextlib.suppress(Exception):  # cleaning up never hides the error that stopped the pass
                    writer.abort()
        raise
