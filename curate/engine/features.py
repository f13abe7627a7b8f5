"""Features: per-document values a global stage needs, computed in the map chain before it.

A chain that precedes a global stage with ``features`` (e.g. ``exact_dedup``'s
text hash) computes them while the texts are in memory, so the stage reads a
few small columns instead of every text again. They are scratch: stored
beside the chain's parts in ``_features/`` (one file per part, row for row),
named ``_feature_<hash of the stage's parameters>_<name>`` so changed
parameters never reuse them, and deleted once the stage has run. A stage that
finds none computes them itself.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from curate.io import atomic, storage
from curate.stage import Stage

PREFIX = "_feature_"
FOLDER = "_features"


def prefix(stage: Stage) -> str:
    """The column prefix of ``stage``'s features, tied to its name and parameters."""
    digest = hashlib.sha256(f"{stage.name}\0{stage.params.model_dump_json()}".encode()).hexdigest()[:10]
    return f"{PREFIX}{digest}_"


def path_of(part: str) -> str:
    """The features file of a checkpoint part."""
    folder, name = part.rsplit("/", 1)
    return storage.join(folder, FOLDER, name)


def split(table: pa.Table) -> tuple[pa.Table, pa.Table | None]:
    """A part's table without its feature columns, and those columns (None when there are none)."""
    names = [c for c in table.column_names if c.startswith(PREFIX)]
    if not names:
        return table, None
    return table.drop_columns(names), table.select(names)


def available(part: str, stage: Stage) -> list[str]:
    """Feature columns of ``stage`` stored beside ``part``."""
    path = path_of(part)
    if not storage.exists(path):
        return []
    start = prefix(stage)
    return [c for c in atomic.read_schema(path).names if c.startswith(start)]


def attach(table: pa.Table, part: str, names: list[str]) -> pa.Table:
    """``table`` (a part read whole, before any filtering) with the named feature columns added."""
    path = path_of(part)
    if not names or not storage.exists(path):
        return table
    stored = atomic.read_table(path, columns=names)
    for name in names:
        table = table.append_column(name, stored.column(name))
    return table


def remove(folder: str) -> None:
    """Delete a chain's features once the stage they were for has run."""
    storage.rmtree(storage.join(folder, FOLDER))
