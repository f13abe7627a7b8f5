"""A held-out split that keeps groups together, so no near-copy of a validation text is trained on.

A group is any key: a source, a site, a thread, or by default the text
itself with case and whitespace folded (exact and trivially different copies
then fall on the same side). Groups are ordered by a seeded hash and taken
into the held-out part until it holds ``fraction`` of the examples; with two
or more groups both parts get at least one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xxhash


def text_group(text: str) -> str:
    """The default group of a text: lowercased, whitespace collapsed."""
    return " ".join(text.lower().split())


def grouped_split(groups: Sequence[str], fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of the held-out examples (about ``fraction`` of them, whole groups only)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    sizes: dict[str, int] = {}
    for group in groups:
        sizes[group] = sizes.get(group, 0) + 1
    ordered = sorted(sizes, key=lambda g: (xxhash.xxh64_intdigest(f"{seed}\x00{g}".encode()), g))
    target = fraction * len(groups)
    held: set[str] = set()
    count = 0
    for group in ordered[:-1]:  # the last group always stays in training
        if count >= target or (count and count + sizes[group] > target * 1.5):
            continue
        held.add(group)
        count += sizes[group]
    if fraction > 0 and not held and len(ordered) > 1:
        held.add(ordered[0])
    return np.array([g in held for g in groups], dtype=bool)
