"""Packing and loading throughput: ``curate pack`` against a bare tokenizer loop, the loader against pyarrow.

The reference is the least work that turns texts into fixed-length rows: the
same Hugging Face fast tokenizer (``encode_batch_fast``, batches of 512),
each document's ids plus the end-of-document id concatenated with NumPy and
cut into ``seq_len`` rows, nothing recorded and nothing written. curate's
``pack_output`` also reads the shard, records document boundaries, piece
offsets and loss masks, and writes zstd Parquet. Both use the default LM's
tokenizer (SmolLM2, read from its GGUF) on real text from the shared corpora.
Prints tokens/s for both and the ratio.

Then the packed rows are read back: ``curate.loader.CurateDataset`` (one
reader, every row as a dict of tensors) against the fastest plain read,
``pyarrow.parquet.read_table`` of ``input_ids`` viewed as one int64 tensor.

    python benchmarks/pack.py [--docs 4000] [--seq-len 2048] [--repeats 2]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from benchmarks._compare import add_smoke_flag, compare
from benchmarks._corpora import DEFAULT_CORPORA, corpus_path, require_corpora, text_chunks
from curate.feed.pack import PackConfig, pack_output
from curate.feed.tokenizer import Tokenizer, load_tokenizer
from curate.loader import CurateDataset

CORPORA = ["bbc_news", "python311_doc_rst", "manpages_en", "udhr_multilingual", "spamassassin_emails"]


def bare_loop(tokenizer: Tokenizer, texts: list[str], seq_len: int) -> int:
    """Tokenise and cut into rows; returns the number of tokens."""
    eos = np.asarray([tokenizer.eos_id], dtype=np.int32)
    pieces = []
    for start in range(0, len(texts), 512):
        for encoding in tokenizer.backend.encode_batch_fast(texts[start:start + 512], add_special_tokens=False):
            pieces.append(np.asarray(encoding.ids, dtype=np.int32))
            pieces.append(eos)
    stream = np.concatenate(pieces)
    rows = stream[: len(stream) // seq_len * seq_len].reshape(-1, seq_len)
    assert rows.shape[1] == seq_len
    return len(stream)


def bare_read(folder: str, seq_len: int) -> int:
    """All packed token ids as one (rows, seq_len) tensor; returns the number of tokens."""
    total = 0
    for path in sorted(glob.glob(os.path.join(folder, "*.parquet"))):
        ids = pq.read_table(path, columns=["input_ids"])["input_ids"].combine_chunks()
        total += torch.from_numpy(ids.values.to_numpy().astype(np.int64)).view(-1, seq_len).numel()
    return total


def loader_read(folder: str) -> int:
    return sum(item["input_ids"].numel() for item in CurateDataset(folder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=4000)
    parser.add_argument("--chars", type=int, default=3000, help="characters per document")
    parser.add_argument("--seq-len", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=2, help="best of N for both sides")
    parser.add_argument("--corpora", default=str(DEFAULT_CORPORA))
    add_smoke_flag(parser)
    args = parser.parse_args()
    # a smoke run only checks that the benchmark works: it takes the sources it finds (the bundled sample has most)
    sources = [name for name in CORPORA if corpus_path(args.corpora, name)] if args.smoke else CORPORA
    require_corpora(args.corpora, sources or CORPORA, args.smoke)
    if args.smoke:
        args.docs, args.repeats = 200, 1
    texts = text_chunks(args.corpora, sources, args.chars, args.docs)
    tokenizer = load_tokenizer("default")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        os.makedirs(out)
        pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts}),
                       os.path.join(out, "part-00000.parquet"))
        bare, ours, bare_cpu, ours_cpu = [], [], [], []
        tokens = 0
        bare_loop(tokenizer, texts[:64], args.seq_len)  # warm the tokenizer's thread pool
        for repeat in range(args.repeats):
            for side in (("bare", "curate") if repeat % 2 == 0 else ("curate", "bare")):  # alternate who goes first
                started, cpu = time.perf_counter(), time.process_time()
                if side == "bare":
                    tokens = bare_loop(tokenizer, texts, args.seq_len)
                    bare.append(time.perf_counter() - started)
                    bare_cpu.append(time.process_time() - cpu)
                else:
                    manifest = pack_output(out, PackConfig(seq_len=args.seq_len), tokenizer=tokenizer)
                    ours.append(time.perf_counter() - started)
                    ours_cpu.append(time.process_time() - cpu)
        assert manifest.document_tokens == tokens
        packed = os.path.join(out, "_packed")
        plain, loader = [], []
        bare_read(packed, args.seq_len), loader_read(packed)  # warm both: file cache, first-call setup
        for repeat in range(args.repeats):
            for side in (("plain", "loader") if repeat % 2 == 0 else ("loader", "plain")):
                started = time.perf_counter()
                read = bare_read(packed, args.seq_len) if side == "plain" else loader_read(packed)
                (plain if side == "plain" else loader).append(time.perf_counter() - started)
                assert read == manifest.sequences * args.seq_len
    print(f"{len(texts):,} documents, {tokens:,} tokens, seq_len {args.seq_len}: bare loop best {min(bare):.2f}s, "
          f"curate pack best {min(ours):.2f}s; CPU seconds (all threads) best {min(bare_cpu):.2f} vs {min(ours_cpu):.2f}")
    read = manifest.sequences * args.seq_len
    print(f"reading {manifest.sequences:,} packed rows: pyarrow best {min(plain):.3f}s, loader best {min(loader):.3f}s")
    compare("pack throughput", "bare tokenizer loop (encode_batch_fast + numpy reshape)", tokens / min(bare),
            tokens / min(ours), "tokens/s")
    compare("packed rows read", "pyarrow read_table + one tensor view", read / min(plain), read / min(loader),
            "tokens/s")


if __name__ == "__main__":
    main()
