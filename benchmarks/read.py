"""Reader throughput: curate's quarantining JSONL reader against pyarrow's JSON reader.

pyarrow.json is the reference: a C++ reader that stops at the first bad line.
curate's reader checks every record (JSON, UTF-8, text field, size, ids) and
keeps going. Prints documents/s for both and the ratio.

    python benchmarks/read.py [--docs 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

import pyarrow.json as pj

from curate.io.reader import ReaderConfig, read_file, resolve_inputs

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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "corpus.jsonl")
        size = make_corpus(path, args.docs)
        start = time.perf_counter()
        table = pj.read_json(path)
        reference = time.perf_counter() - start
        assert table.num_rows == args.docs
        file = resolve_inputs([path])[0]
        start = time.perf_counter()
        rows = sum(t.num_rows for t in read_file(0, file, ReaderConfig()))
        ours = time.perf_counter() - start
        assert rows == args.docs
    print(f"corpus: {args.docs:,} documents, {size / 1e6:.0f} MB")
    print(f"pyarrow.json.read_json (reference): {args.docs / reference:,.0f} docs/s ({size / reference / 1e6:.0f} MB/s)")
    print(f"curate reader (one core)          : {args.docs / ours:,.0f} docs/s ({size / ours / 1e6:.0f} MB/s)")
    print(f"ratio curate/reference: {reference / ours:.2f}")


if __name__ == "__main__":
    main()
