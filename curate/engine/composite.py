"""One manifest record per configured stage, also for a stage that runs as several steps.

A decomposed stage (``Stage.decompose``, e.g. a classifier's score as a map
step and its percentile cut as a global step) has one record per step while it
runs, all with the stage's position as ``index``. They are combined into one:
documents in from the first step, out from the last, drops and created rows
summed (so ``in + created = out + dropped`` holds for the stage as for each
step), the kinds joined (``map+global``) and the statistics of the later steps
taking precedence over the earlier ones' (the last step decides).
"""

from __future__ import annotations

from collections import Counter

from curate.manifest import StageRecord


def merged(parts: list[StageRecord]) -> StageRecord:
    """The record of one stage from the records of its steps, in order."""
    if len(parts) == 1:
        return parts[0]
    first, last = parts[0], parts[-1]
    dropped: Counter[str] = Counter()
    stats = dict(last.stats)
    for part in parts:
        dropped.update(part.dropped)
    for part in reversed(parts[:-1]):
        for key, value in part.stats.items():
            stats.setdefault(key, value)
    return last.model_copy(update={
        "kind": "+".join(part.kind for part in parts),
        "params": first.params,
        "documents_in": first.documents_in,
        "created": sum(part.created for part in parts),
        "dropped": dict(sorted(dropped.items())),
        "seconds": round(sum(part.seconds for part in parts), 3),
        "resumed": all(part.resumed for part in parts),
        "stats": stats,
        "parts": sum(part.parts for part in parts),
        "parts_resumed": sum(part.parts_resumed for part in parts),
    })


def per_stage(records: list[StageRecord]) -> list[StageRecord]:
    """``records`` (one per step, in pipeline order) with each stage's steps combined into one record."""
    groups: dict[int, list[StageRecord]] = {}
    for record in records:
        groups.setdefault(record.index, []).append(record)
    return [merged(group) for group in groups.values()]
