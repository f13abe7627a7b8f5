"""Build the bundled sample corpus ``data/sample/`` from the shared real-text corpora.

The draw is deterministic (fixed seed), uses permissively licensed sources only,
and mixes clean prose, documentation, noisy e-mail, licence texts with natural
near-duplicates, very short texts and many languages. Run from the repository
root:

    python scripts/build_sample.py --corpora ../shared/corpora --out data/sample
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

# source file -> (documents to draw, licence of the source)
DRAW = {
    "bbc_news": (500, "MIT"),
    "brown_corpus": (40, "MIT"),
    "moby_dick_chapters": (25, "public domain"),
    "spdx_license_texts": (150, "CC0"),
    "udhr_multilingual": (80, "MIT"),
    "python311_doc_rst": (40, "PSF"),
    "django_doc_html": (60, "BSD-3-Clause"),
    "postgresql_doc_html": (80, "PostgreSQL"),
    "spamassassin_emails": (300, "Apache-2.0"),
    "fortunes_all": (1500, "BSD/GPL/public domain"),
}
MAX_CHARS = 60_000  # keeps the sample small; longer documents are skipped, not cut
PARQUET_SOURCES = {"fortunes_all"}  # one source ships as Parquet to exercise both readers


def read_corpus(path: str) -> list[dict]:
    with open(path, "rb") as handle:
        stream = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(handle), encoding="utf-8")
        return [json.loads(line) for line in stream if line.strip()]


def draw(records: list[dict], count: int, rng: random.Random, source: str) -> list[dict]:
    usable = [r for r in records if len(r.get("text") or "") <= MAX_CHARS]
    if source == "fortunes_all":
        usable = [r for r in usable if not r.get("offensive")]
    if source == "bbc_news":
        # Keep the corpus's own exact duplicates in the draw, so dedup has real work.
        by_text: dict[str, list[dict]] = {}
        for r in usable:
            by_text.setdefault(r["text"], []).append(r)
        repeated = [r for group in by_text.values() if len(group) > 1 for r in group][: count // 5]
        rest = [r for r in usable if r not in repeated]
        chosen = repeated + rng.sample(rest, min(count - len(repeated), len(rest)))
    else:
        chosen = rng.sample(usable, min(count, len(usable)))
    return sorted(chosen, key=lambda r: r["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default="../shared/corpora", help="folder with the shared *.jsonl.zst corpora")
    parser.add_argument("--out", default="data/sample", help="where to write the sample")
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(args.seed)
    total_docs = total_chars = 0
    for source, (count, licence) in DRAW.items():
        records = draw(read_corpus(os.path.join(args.corpora, f"{source}.jsonl.zst")), count, rng, source)
        total_docs += len(records)
        total_chars += sum(len(r["text"]) for r in records)
        if source in PARQUET_SOURCES:
            path = os.path.join(args.out, f"{source}.parquet")
            pq.write_table(pa.Table.from_pylist(records), path, compression="zstd")
        else:
            path = os.path.join(args.out, f"{source}.jsonl.zst")
            payload = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
            with open(path, "wb") as handle:
                handle.write(zstandard.ZstdCompressor(level=19).compress(payload))
        print(f"{path}: {len(records)} documents ({licence})")
    print(f"total: {total_docs} documents, {total_chars / 1e6:.1f} M characters")


if __name__ == "__main__":
    main()
