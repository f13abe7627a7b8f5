"""End-to-end runner throughput against in-process sequential execution.

Generates a corpus with exact duplicates, runs ``pipelines/default.yaml``
through the Ray runner (reading, checkpoints, shuffles, output shards,
manifest), and runs the same stages in one process without Ray as the
reference (reader batches through ``process_batch``, a Python dict for exact
duplicates). Prints both throughputs, the ratio, and checks that both keep the
same number of documents.

    python benchmarks/pipeline.py [--docs 200000] [--files 8]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time

import orjson
import zstandard

from curate.config import load_pipeline
from curate.io.reader import read_file, resolve_inputs
from curate.ray_env import init_ray
from curate.runner import run_pipeline
from curate.stage import DROP_REASON, GlobalStage
from curate.stages.exact_dedup import text_hashes

WORDS = ("data model train token corpus filter quality web page text language the of and to in a is that for it as "
         "with be by on not this are or from at which").split()


def make_corpus(folder: str, docs: int, files: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    texts: list[str] = []
    per_file = docs // files
    for f in range(files):
        lines = []
        for i in range(per_file):
            if texts and rng.random() < 0.1:
                text = rng.choice(texts).upper()  # an exact duplicate after normalisation
            else:
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 400)))
                texts.append(text)
            lines.append(orjson.dumps({"id": f"f{f}-{i}", "text": text}))
        with open(os.path.join(folder, f"part-{f:03d}.jsonl.zst"), "wb") as handle:
            handle.write(zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n"))


def sequential(inputs: str, pipeline_path: str) -> int:
    """The same stages in one process, no Ray: the reference."""
    config = load_pipeline(pipeline_path)
    stages = config.build_stages()
    seen: set[str] = set()
    kept = 0
    for index, file in enumerate(resolve_inputs([inputs])):
        for batch in read_file(index, file, config.reader):
            for stage in stages:
                batch = batch.filter(batch.column(DROP_REASON).is_null())
                if isinstance(stage, GlobalStage):  # exact_dedup, done with a set of hashes
                    mask = []
                    for digest in text_hashes(batch.column("text"), stage.params).to_pylist():
                        mask.append(digest not in seen)
                        seen.add(digest)
                    batch = batch.filter(mask)
                else:
                    batch = stage.process_batch(batch.drop_columns([DROP_REASON]))
                    if isinstance(batch, tuple):  # (table, stats)
                        batch = batch[0]
            kept += batch.filter(batch.column(DROP_REASON).is_null()).num_rows if DROP_REASON in batch.column_names else batch.num_rows
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--pipeline", default="pipelines/default.yaml")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "in")
        os.makedirs(inputs)
        make_corpus(inputs, args.docs, args.files)
        start = time.perf_counter()
        reference_kept = sequential(inputs, args.pipeline)
        reference = time.perf_counter() - start

        init_ray()
        config = load_pipeline(args.pipeline)
        config.input, config.output = [inputs], os.path.join(tmp, "out")
        start = time.perf_counter()
        manifest = run_pipeline(config)
        ours = time.perf_counter() - start
    docs = manifest["documents"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {docs['input']:,} documents in {args.files} files")
    print(f"sequential, no Ray (reference): {docs['input'] / reference:,.0f} docs/s, {reference_kept:,} kept")
    print(f"curate runner on Ray          : {docs['input'] / ours:,.0f} docs/s, {docs['output']:,} kept "
          f"({ours:.1f}s, driver peak RSS {peak:,.0f} MB)")
    print("runner stages: " + ", ".join(f"{s['name']} {s['seconds']:.1f}s" for s in manifest["stages"]))
    print(f"ratio runner/reference: {reference / ours:.2f}")
    if reference_kept != docs["output"]:
        raise SystemExit(f"kept counts differ: runner {docs['output']} vs reference {reference_kept}")


if __name__ == "__main__":
    main()
