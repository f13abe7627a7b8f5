"""Reader throughput: curate's quarantining JSONL reader against pyarrow's JSON reader.

pyarrow.json is the reference: a C++ reader that stops at the first bad line,
run on one thread as the curate reader is (Ray runs one reader per file).
curate's reader checks every record (JSON, UTF-8, text field, size, ids) and
keeps going. Prints documents/s for both (best of ``--repeat`` each) and the ratio.

    python benchmarks/read.py [--docs 200000] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile

import pyarrow.json as pj

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._compare import add_smoke_flag, best_of, compare  # noqa: E402
from curate.io.reader import ReaderConfig, read_file, resolve_inputs  # noqa: E402

WORDS = "the of and to in a is that for it as was with be by on not he this are or his from at which".split()


def make_corpus(path: str, docs: int, seed: int = 0) -> int:
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for i in range(docs):
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 600)))
            handle.write(json.dumps({"id": f"doc-{i}", "text": text, "url": f"https://example.org/{i}"}) + "\n")
    return os.path.getsize(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs, for both readers")
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.docs, args.repeat = 5_000, 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "corpus.jsonl")
        size = make_corpus(path, args.docs)
        file = resolve_inputs([path])[0]

        def reference_read() -> None:  # one thread, like the curate reader (a worker reads one file)
            assert pj.read_json(path, read_options=pj.ReadOptions(use_threads=False)).num_rows == args.docs

        def curate_read() -> None:
            assert sum(t.num_rows for t in read_file(0, file, ReaderConfig())) == args.docs

        reference = best_of(args.repeat, reference_read)
        ours = best_of(args.repeat, curate_read)
    print(f"corpus: {args.docs:,} documents, {size / 1e6:.0f} MB; best of {args.repeat}")
    print(f"pyarrow.json.read_json, one thread (reference): {args.docs / reference:,.0f} docs/s ({size / reference / 1e6:.0f} MB/s)")
    print(f"curate reader, one core                       : {args.docs / ours:,.0f} docs/s ({size / ours / 1e6:.0f} MB/s)")
    compare(f"JSONL reading, {args.docs:,} documents", "pyarrow.json.read_json, one thread (stops at the first bad line)",
            args.docs / reference, args.docs / ours, "docs/s")


if __name__ == "__main__":
    main()
