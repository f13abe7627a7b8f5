"""Classifier stages against fastText's own predict: documents per second on one core.

For each stage (quality, toxicity per document, toxicity per sentence,
classify in its percentile form) the reference is fastText ``predict`` called
in a bare loop on the same texts with newlines replaced (for the sentence
stage: on the same sentences, already split). Both run in this process, one
thread, best of ``--repeats``. The ratio is the stage's overhead; the target is
at most 1.3x.

    python benchmarks/scoring.py [--docs 5000] [--smoke]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._compare import add_smoke_flag, compare
from curate.classify.fasttext_model import load_model
from curate.classify.sentences import sentence_spans
from curate.io.reader import ReaderConfig, read_file, resolve_inputs
from curate.stage import ORDER, drop_mask
from curate.stages.quality import Quality
from curate.stages.toxicity import Toxicity

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def sample_documents(limit: int) -> pa.Table:
    """Up to ``limit`` documents of the sample corpus, as the runner hands them to stages."""
    tables, count = [], 0
    for index, file in enumerate(resolve_inputs(str(SAMPLE))):
        for batch in read_file(index, file, ReaderConfig()):
            tables.append(batch.select(["id", "text", "source", ORDER]))
            count += batch.num_rows
    table = pa.concat_tables(tables)
    step = max(1, table.num_rows // limit)  # every source represented
    return table.take(list(range(0, table.num_rows, step))[:limit])


def best_of(repeats: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def bare_loop(model, texts: list[str]) -> None:
    """The reference: fastText's own predict, one text at a time (the best label and its probability)."""
    for text in texts:
        model.predict(text.replace("\n", " "), k=1)


def through_stage(stage, table: pa.Table, batch_size: int) -> tuple[Counter, Counter]:
    """Run the stage over ``table`` batch by batch; returns the documents it dropped per source and its stats."""
    dropped, stats = Counter(), Counter()
    for start in range(0, table.num_rows, batch_size):
        batch = table.slice(start, batch_size)
        if hasattr(stage, "process_batch"):
            out, batch_stats = stage.process_batch(batch)
            dropped.update(out.column("source").filter(pa.array(drop_mask(out))).to_pylist())
            stats.update(batch_stats)
        else:  # the global (percentile) form scores in the pass before it, then decides on all the scores
            stage.features(batch)
    return dropped, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args()
    docs, repeats = (200, 1) if args.smoke else (args.docs, args.repeats)
    table = sample_documents(docs)
    texts = [t or "" for t in table.column("text").to_pylist()]
    print(f"{table.num_rows} documents of the sample corpus, {sum(map(len, texts)) / 1e6:.1f} M characters")
    stages = {
        "quality": Quality(),
        "quality (percentile)": Quality(percentile=10),
        "toxicity (document)": Toxicity(level="document"),
        "toxicity (sentence)": Toxicity(),
    }
    results = []
    for label, stage in stages.items():
        model = load_model(stage.params.model_path())
        if label == "toxicity (sentence)":
            sentences = [s for text in texts for s in sentence_spans(text)]
            reference = best_of(repeats, lambda: bare_loop(model, sentences))  # noqa: B023
        else:
            reference = best_of(repeats, lambda: bare_loop(model, texts))  # noqa: B023
        ours = best_of(repeats, lambda: through_stage(stage, table, stage.batch_size))  # noqa: B023
        if hasattr(stage, "process_batch"):
            dropped, stats = through_stage(stage, table, stage.batch_size)
            removed = (f"; removes {stats['sentences_removed']} of {stats['sentences']} sentences "
                       f"({stats['sentences_removed'] / max(stats['sentences'], 1):.2%}) from "
                       f"{stats['documents_changed']} documents") if "sentences" in stats else ""
            total = sum(dropped.values())
            print(f"{label}: drops {total} of {table.num_rows} documents ({total / table.num_rows:.1%}) "
                  f"at its default settings{removed}")
            sizes = Counter(table.column("source").to_pylist())
            print("  by source: " + ", ".join(f"{name} {dropped[name] / n:.1%}" for name, n in sorted(sizes.items())))
        results.append((label, table.num_rows / reference, table.num_rows / ours))
    for label, reference_rate, curate_rate in results:
        compare(f"{label} stage, documents/s on one core", "fasttext predict in a bare loop", reference_rate,
                curate_rate, "docs/s")


if __name__ == "__main__":
    main()
