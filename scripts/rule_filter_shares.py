"""Share of the sample each rule filter drops at its defaults, overall and per source, without a pipeline run.

    python scripts/rule_filter_shares.py [--definition datatrove]

Runs each rule filter's ``process_batch`` on the bundled sample as the reader
gives it (no ``normalize``) and prints one line per filter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._corpora import SAMPLE, sample_table  # noqa: E402
from curate.stages import get_stage_class  # noqa: E402
from curate.tables import drop_mask

FILTERS = ("gopher_quality", "gopher_repetition", "c4_filter", "fineweb_filter")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SAMPLE)
    parser.add_argument("--definition", choices=("paper", "datatrove"), default="paper")
    args = parser.parse_args()
    table = sample_table(args.input)
    sources = np.array(table.column("source").to_pylist())
    for name in FILTERS:
        dropped = drop_mask(get_stage_class(name)(definition=args.definition).process_batch(table)[0])
        shares = " | ".join(f"{s} {dropped[sources == s].mean():.0%}" for s in sorted(set(sources)))
        print(f"{name}: all {dropped.mean():.1%} | {shares}")


if __name__ == "__main__":
    main()
