"""The ``embed`` stage against a bare ``SentenceTransformer.encode`` loop: documents/s per core.

Like for like: one process, one torch thread, the same model (the packaged
all-MiniLM-L6-v2), the same truncation (``max_seq_length`` = ``max_tokens``),
the same precision (float32 on both; bfloat16 on both too where the CPU
computes it natively), the same batch size, both warmed on the same texts
first, best of the same number of repeats. The stage's time includes reading
the text column from Arrow and writing the embedding column.

    python benchmarks/embed.py              # 512 sample documents, 128 tokens
    python benchmarks/embed.py --smoke      # 32 documents, 1 repeat
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, best_of, compare  # noqa: E402
from benchmarks.icp import sample_texts  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    add_smoke_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        args.documents, args.repeats = 32, 1
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import pyarrow as pa
    import torch

    from curate.icp.embed import _native_bf16

    torch.set_num_threads(1)
    texts = sample_texts(args.documents)
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    print(f"{len(texts)} sample documents, {sum(map(len, texts)) / len(texts):,.0f} characters on average; first "
          f"{args.max_tokens} tokens; 1 torch thread; batch {args.batch_size}; best of {args.repeats}")
    precisions = ["float32"] + (["bfloat16"] if _native_bf16(torch, "cpu") else [])
    for precision in precisions:
        measure(texts, table, precision, args)


def measure(texts: list[str], table, precision: str, args: argparse.Namespace) -> None:
    """One COMPARE line: the stage and a bare encode loop at ``precision``."""
    import torch
    from sentence_transformers import SentenceTransformer

    from curate.icp.embed import default_model_path
    from curate.stages.embed import Embed

    bare = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    bare.max_seq_length = args.max_tokens
    bf16 = precision == "bfloat16"

    def run_bare() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            bare.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False)

    stage = Embed(max_tokens=args.max_tokens, precision=precision, batch_size=args.batch_size)
    stage.setup()
    torch.set_num_threads(1)  # the stage sets its actor's CPUs; both run on one thread here
    run_bare()  # warm both
    stage.process_batch(table)
    bare_s = best_of(args.repeats, run_bare)
    stage_s = best_of(args.repeats, lambda: stage.process_batch(table))
    compare(f"embed stage, MiniLM first {args.max_tokens} tokens, {precision}, 1 thread",
            f"SentenceTransformer.encode ({precision}, same truncation)", len(texts) / bare_s,
            len(texts) / stage_s, "docs/s")

if __name__ == "__main__":
    main()
