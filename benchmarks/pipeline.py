"""End-to-end runner cost against an in-process single-core loop of the same stage classes.

Generates ~1 KB documents (10% exact duplicates after normalisation) in
several zstd JSONL files, then runs ``normalize -> length_filter ->
exact_dedup``:

* reference: one Python process, no Ray: the reader's batches through the
  same ``process_batch`` methods, exact duplicates found with a set of the
  same hashes;
* curate: ``curate.runner`` on a local Ray (reading, fused chain, checkpoints,
  the hash shuffle, output shards, dropped table, manifest).

Prints both wall times and their ratio (curate / reference: below 1.0 means
curate is faster), the bytes left under ``_stages/`` against the output's,
and curate's peak memory (PSS of the driver and every Ray process). Both must
keep the same number of documents.

    python benchmarks/pipeline.py [--docs 100000 1000000] [--files 8] [--smoke]

The pipeline is the one above, not pipelines/default.yaml: the reference
re-implements exact deduplication only, and the default pipeline's model
stages have no single-process equivalent worth timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time

import orjson
import zstandard

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._memory import PeakMemory  # noqa: E402
from curate.config import parse_pipeline  # noqa: E402
from curate.io.reader import read_file, resolve_inputs  # noqa: E402
from curate.ray_env import init_ray  # noqa: E402
from curate.runner import run_pipeline  # noqa: E402
from curate.stage import DROP_REASON, MapStage  # noqa: E402
from curate.stages.exact_dedup import ExactDedup, text_hashes  # noqa: E402

PIPELINE = {"stages": [{"normalize": {}}, {"length_filter": {"min_words": 5, "max_chars": 1_000_000}},
                       {"exact_dedup": {}}]}
WORDS = ("data model train token corpus filter quality web page text language the of and to in a is that for it as "
         "with be by on not this are or from at which").split()


def make_corpus(folder: str, docs: int, files: int, seed: int = 0) -> int:
    """Write ``docs`` documents of about 1 KB (10% exact duplicates up to case); returns the bytes written."""
    rng = random.Random(seed)
    texts: list[str] = []
    per_file = docs // files
    written = 0
    for f in range(files):
        lines = []
        for i in range(per_file):
            if texts and rng.random() < 0.1:
                text = rng.choice(texts).upper()
            else:
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 330)))
                texts.append(text)
            lines.append(orjson.dumps({"id": f"f{f}-{i}", "text": text}))
        path = os.path.join(folder, f"part-{f:03d}.jsonl.zst")
        with open(path, "wb") as handle:
            handle.write(zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n"))
        written += os.path.getsize(path)
    return written


def sequential(inputs: str) -> int:
    """The same stage classes in one process and one core, no Ray: the reference. Returns documents kept."""
    config = parse_pipeline(PIPELINE)
    stages = config.build_stages()
    seen: set[str] = set()
    kept = 0
    for index, file in enumerate(resolve_inputs([inputs])):
        for batch in read_file(index, file, config.reader):
            batch = batch.filter(batch.column(DROP_REASON).is_null()).drop_columns([DROP_REASON])
            for stage in stages:
                if isinstance(stage, MapStage):
                    result = stage.process_batch(batch)
                    batch = result[0] if isinstance(result, tuple) else result
                    batch = batch.filter(batch.column(DROP_REASON).is_null()).drop_columns([DROP_REASON])
                elif isinstance(stage, ExactDedup):
                    mask = []
                    for digest in text_hashes(batch.column("text"), stage.params).to_pylist():
                        mask.append(digest not in seen)
                        seen.add(digest)
                    batch = batch.filter(mask)
                else:
                    raise SystemExit(f"the reference does not know stage {stage.name!r}")
            kept += batch.num_rows
    return kept


def folder_bytes(folder: str) -> int:
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(folder) for f in files)


def measure(docs: int, files: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "in")
        os.makedirs(inputs)
        input_bytes = make_corpus(inputs, docs, files)
        start = time.perf_counter()
        reference_kept = sequential(inputs)
        reference = time.perf_counter() - start

        config = parse_pipeline(PIPELINE)
        config.input, config.output = [inputs], os.path.join(tmp, "out")
        with PeakMemory() as memory:
            start = time.perf_counter()
            manifest = run_pipeline(config)
            ours = time.perf_counter() - start
        out = config.output
        stages_bytes = folder_bytes(os.path.join(out, "_stages"))
        output_bytes = sum(s.bytes for s in manifest.output.shards)
    counts = manifest.documents
    print(f"\n## {counts.input:,} documents of ~1 KB in {files} files ({input_bytes / 2**20:.0f} MB zstd JSONL); "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    print(f"reference, one process, one core, no Ray: {reference:7.1f} s  ({counts.input / reference:,.0f} docs/s), "
          f"{reference_kept:,} kept")
    print(f"curate runner on Ray                    : {ours:7.1f} s  ({counts.input / ours:,.0f} docs/s), "
          f"{counts.output:,} kept")
    print("  stages: " + ", ".join(f"{s.name} {s.seconds:.1f}s" for s in manifest.stages)
          + f", write {manifest.write_seconds:.1f}s")
    print(f"ratio curate / reference wall time: {ours / reference:.2f} (target <= 1.0)")
    print(f"bytes under _stages/: {stages_bytes / 2**20:.1f} MB, output shards {output_bytes / 2**20:.1f} MB: "
          f"ratio {stages_bytes / max(output_bytes, 1):.2f} (target <= 1.2)")
    print(f"peak memory, driver and every Ray process (PSS): {memory.peak / 2**30:.2f} GiB (target < 8)")
    if reference_kept != counts.output:
        raise SystemExit(f"kept counts differ: runner {counts.output} vs reference {reference_kept}")
    compare(f"normalize + length_filter + exact_dedup, {counts.input:,} documents in {files} files",
            "the same stages in one process, no Ray", counts.input / reference, counts.input / ours, "docs/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, nargs="+", default=[100_000])
    parser.add_argument("--files", type=int, default=8)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.docs, args.files = [2_000], 2
    init_ray()
    for docs in args.docs:
        measure(docs, args.files)


if __name__ == "__main__":
    main()
