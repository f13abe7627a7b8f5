"""The one line every benchmark prints last for each comparison it makes.

Format (parsed by ``make bench`` readers and quoted in the docs)::

    COMPARE <what> | reference <name>: <value> <unit> | curate: <value> <unit> | ratio <x> (<meaning>)

Both values are measured in the same process with the same number of repeats.
The ratio is always oriented so that above 1.0 means curate is better
(faster, or smaller for memory) unless ``meaning`` says otherwise.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable


def compare(what: str, reference: str, reference_value: float, curate_value: float, unit: str,
            higher_is_better: bool = True) -> float:
    """Print the comparison line and return the ratio (above 1.0: curate is better)."""
    if higher_is_better:
        ratio = curate_value / reference_value if reference_value else float("inf")
        meaning = f"curate / reference, {unit}; higher is better"
    else:
        ratio = reference_value / curate_value if curate_value else float("inf")
        meaning = f"reference / curate, {unit}; higher is better for curate"
    print(f"COMPARE {what} | reference {reference}: {reference_value:,.4g} {unit} | "
          f"curate: {curate_value:,.4g} {unit} | ratio {ratio:.2f} ({meaning})", flush=True)
    return ratio


def best_of(repeats: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeats`` timed calls of ``run``, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def add_smoke_flag(parser: argparse.ArgumentParser) -> None:
    """``--smoke``: run at a tiny size (seconds) so CI notices a broken benchmark."""
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, a few seconds: checks that the benchmark runs end to end")
