"""Rule filters and language ID: documents per second per core on the sample corpus.

    python benchmarks/filters.py            # the whole sample corpus (data/sample), best of 3
    python benchmarks/filters.py --smoke    # 200 documents, one repeat

Every stage runs ``process_batch`` in this one process with Arrow and numpy
held to one thread, over the sample corpus in batches of the stage's own
batch size; the figure is documents per second on one core.

Comparisons (same texts, same repeats, same process):

* ``language`` against fastText's ``predict`` called in a bare Python loop,
  one text at a time (newlines replaced), on the same model: the stage's
  overhead (target: at most 1.3x slower, i.e. ratio >= 0.77).
* ``gopher_repetition`` against the same values computed per document in plain
  Python with ``collections.Counter`` over n-gram tuples (the way DataTrove's
  Gopher repetition filter computes them): what batch-wide vectorisation buys.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pyarrow as pa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import SAMPLE, sample_table  # noqa: E402
from benchmarks.scoring import bare_loop  # noqa: E402
from curate.stages import get_stage_class  # noqa: E402

STAGES = ("gopher_quality", "gopher_repetition", "c4_filter", "fineweb_filter", "language")


def best_of(repeats: int, *runs) -> list[float]:
    """Shortest of ``repeats`` timed runs of each function, after one untimed warm-up run of each.

    The functions take turns, so a change in the machine's load hits all of them alike.
    """
    for run in runs:
        run()
    times = [[] for _ in runs]
    for _ in range(repeats):
        for run, spent in zip(runs, times):
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return [min(spent) for spent in times]


def run_stage(stage, table: pa.Table) -> None:
    for start in range(0, table.num_rows, stage.batch_size):
        stage.process_batch(table.slice(start, stage.batch_size))


def python_repetition(texts: list[str]) -> None:
    """Gopher repetition values per document in plain Python (duplicate lines and paragraphs, n-grams)."""
    for text in texts:
        for pieces in (text.split("\n"), text.split("\n\n")):
            seen: set[str] = set()
            for piece in (p.strip() for p in pieces):
                if piece:
                    seen.add(piece)
        words = text.split()
        for n in range(2, 11):
            grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
            if n <= 4:
                grams.most_common(1)
            else:
                covered = set()
                for i in range(len(words) - n + 1):
                    if grams[tuple(words[i:i + n])] > 1:
                        covered.update(range(i, i + n))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SAMPLE)
    parser.add_argument("--repeats", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    table = sample_table(args.input)
    if args.smoke:
        table = table.slice(0, 200)
    repeats = 1 if args.smoke else args.repeats
    texts = [t or "" for t in table.column("text").to_pylist()]
    print(f"{table.num_rows} documents, {sum(map(len, texts)) / 1e6:.1f} M characters, best of {repeats}")
    stages = {name: get_stage_class(name)(mode="annotate") for name in STAGES}
    model = stages["language"]._model
    runs = [lambda stage=stage: run_stage(stage, table) for stage in stages.values()]
    seconds = best_of(repeats, *runs, lambda: bare_loop(model, texts), lambda: python_repetition(texts))
    rates = dict(zip(STAGES, (table.num_rows / s for s in seconds)))
    for name in STAGES:
        print(f"{name:18s} {rates[name]:10,.0f} docs/s per core")
    bare, reference = (table.num_rows / s for s in seconds[len(STAGES):])
    compare("gopher_repetition, sample corpus", "per-document Python Counter n-grams", reference,
            rates["gopher_repetition"], "docs/s")
    compare("language (lid.176.ftz), sample corpus", "fastText predict in a bare loop", bare, rates["language"],
            "docs/s")


if __name__ == "__main__":
    main()
