"""Classifier stages against fastText's own predict: documents per second on one core.

For each stage (quality, toxicity per document, toxicity per sentence,
classify in its percentile form) the reference is fastText ``predict`` called
in a bare loop on the same texts with newlines replaced. For the sentence
stage the reference does what a user of bare fastText must do for the same
scores: cut each document into the same sentences (Python ``re.split`` with the
stage's sentence-end pattern, one C call per document) and predict every
sentence in the loop; it does not rejoin the texts, which the stage does. Both
run in this process, one thread, best of ``--repeats``. The ratio is the
stage's overhead; the target is at most 1.3x.

    python benchmarks/scoring.py [--docs 5000] [--smoke]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._compare import add_smoke_flag, best_of, compare
from benchmarks._corpora import sample_table
from curate.classify.fasttext_model import load_model
from curate.classify.sentences import END_PATTERN, split_batch
from curate.models import shipped
from curate.stage import ORDER
from curate.stages.quality import Quality
from curate.stages.toxicity import Toxicity
from curate.tables import drop_mask


def sample_documents(limit: int) -> pa.Table:
    """Up to ``limit`` documents of the sample corpus, as the runner hands them to stages."""
    table = sample_table().select(["id", "text", "source", ORDER])
    step = max(1, table.num_rows // limit)  # every source represented
    return table.take(list(range(0, table.num_rows, step))[:limit])


def bare_loop(model, texts: list[str]) -> None:
    """The reference: fastText's own predict, one text at a time (the best label and its probability)."""
    for text in texts:
        model.predict(text.replace("\n", " "), k=1)


_SENTENCE_END = re.compile(f"({END_PATTERN})")


def split_then_loop(model, texts: list[str]) -> None:
    """The sentence-level reference: split each text with ``re.split``, then predict each sentence in the loop."""
    for text in texts:
        parts = _SENTENCE_END.split(text)  # sentence, its end, sentence, its end, ..., the rest
        sentences = [body + end for body, end in zip(parts[0::2], parts[1::2])]
        if parts[-1]:
            sentences.append(parts[-1])
        for sentence in sentences or [""]:  # a text without sentences is scored whole, as the stage does
            model.predict(sentence.replace("\n", " "), k=1)


def distinct_share(table: pa.Table, batch_size: int) -> float:
    """Share of the sentences that are distinct within their batch (the sentence stage predicts those only)."""
    distinct = total = 0
    for start in range(0, table.num_rows, batch_size):
        sentences, _ = split_batch(table.column("text").slice(start, batch_size))
        lines = pc.replace_substring(sentences, "\n", " ")
        distinct, total = distinct + len(pc.unique(lines)), total + len(lines)
    return distinct / max(total, 1)


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
    # the fastText models (scoring the text); the default heads score an embedding column (benchmarks/embed.py)
    quality, profanity = shipped("quality.ftz"), shipped("toxicity.ftz")
    stages = {
        "quality": Quality(model=quality),
        "quality (percentile)": Quality(model=quality, percentile=10),
        "toxicity (document)": Toxicity(model=profanity, label="toxic", level="document", threshold=0.4),
        "toxicity (sentence)": Toxicity(model=profanity, label="toxic", level="sentence", threshold=0.4),
    }
    results = []
    for label, stage in stages.items():
        model = load_model(stage.params.model_path())
        reference_loop = split_then_loop if label == "toxicity (sentence)" else bare_loop
        reference = best_of(repeats, lambda: reference_loop(model, texts))  # noqa: B023
        ours = best_of(repeats, lambda: through_stage(stage, table, stage.batch_size))  # noqa: B023
        if hasattr(stage, "process_batch"):
            dropped, stats = through_stage(stage, table, stage.batch_size)
            removed = (f"; removes {stats['sentences_removed']} of {stats['sentences']} sentences "
                       f"({stats['sentences_removed'] / max(stats['sentences'], 1):.2%}) from "
                       f"{stats['documents_changed']} documents; {distinct_share(table, stage.batch_size):.0%} of "
                       "the sentences are distinct within their batch") if "sentences" in stats else ""
            total = sum(dropped.values())
            print(f"{label}: drops {total} of {table.num_rows} documents ({total / table.num_rows:.1%}) "
                  f"at its default settings{removed}")
            sizes = Counter(table.column("source").to_pylist())
            print("  by source: " + ", ".join(f"{name} {dropped[name] / n:.1%}" for name, n in sorted(sizes.items())))
        results.append((label, table.num_rows / reference, table.num_rows / ours))
    for label, reference_rate, curate_rate in results:
        reference_name = ("re.split + fasttext predict in a bare loop" if label == "toxicity (sentence)"
                          else "fasttext predict in a bare loop")
        compare(f"{label} stage, documents/s on one core", reference_name, reference_rate, curate_rate, "docs/s")


if __name__ == "__main__":
    main()
