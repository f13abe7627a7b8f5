"""Feeding figures on a run's output: rows per rank, the MeCo cool-down mix, dataset decomposition's draws.

    python benchmarks/feeding.py [--smoke] [--output OUT]   # all three (OUT default: out/default, else the sample)
    python benchmarks/feeding.py ranks OUT/_packed --world 2 [--workers 0] [--equalize pad|drop|none]
    python benchmarks/feeding.py cooldown OUT [--share 0.9] [--seed 0]
    python benchmarks/feeding.py buckets PACKED_WITH_BUCKETS [--tokens-per-batch 16384] [--cycles 8] [--epochs 200]

Without a command, all three run on ``--output`` (``out/default`` when ``make pipeline`` wrote it; else, or
with ``--smoke``, the bundled sample's documents in file order, packed into a temporary folder).
``ranks`` iterates ``CurateDataset`` through a ``DataLoader`` per rank and counts the rows each rank gets.
``cooldown`` compares, per source, the share of documents overall with the share in the cool-down: of the
seeded random draw ``curate pack`` makes (read from a fresh pack's ``_pack.json``) and, as the baseline, of
the old rule (the last ``1 - share`` of the characters in output order), computed here from the documents.
``buckets`` compares ``BucketBatches``' draws with its configured odds: the probability of each bucket at
the start of a cycle (odds x batches), the frequency of each bucket among draws made while every bucket was
still in the draw, pooled over epochs, and the share of each bucket over whole epochs; then it iterates one
epoch of real batches and checks their lengths follow the schedule and hold the same number of tokens.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def ranks(args: argparse.Namespace) -> None:
    from torch.utils.data import DataLoader

    from curate.loader import CurateDataset

    equalize = None if args.equalize == "none" else args.equalize
    counts = []
    for rank in range(args.world):
        dataset = CurateDataset(args.folder, rank=rank, world_size=args.world, equalize=equalize,
                                columns=["doc_ids"] if args.light else None)
        loader = DataLoader(dataset, batch_size=None, num_workers=args.workers)
        counts.append(sum(1 for _ in loader))
    print(f"{args.folder}: {args.world} ranks x {args.workers} workers, equalize={args.equalize}: rows per rank {counts}")


def cooldown(args: argparse.Namespace) -> tuple[float, float]:
    import polars as pl

    from curate.feed.pack import PackConfig, pack_output
    from curate.feed.shards import document_shards

    docs = pl.read_parquet(document_shards(args.output), columns=["id", "source", "text"])
    docs = docs.with_columns(chars=pl.col("text").str.len_chars().cast(pl.Int64)).drop("text")
    cut = args.share * float(docs["chars"].sum())
    docs = docs.with_columns(tail=(pl.col("chars").cum_sum() - pl.col("chars")) >= cut)  # the old rule
    with tempfile.TemporaryDirectory() as folder:
        manifest = pack_output(args.output, PackConfig(metadata="domain", metadata_share=args.share, seed=args.seed,
                                                       output=folder))
    split = manifest.metadata_split
    print(f"{args.output}: {len(docs)} documents; attention {manifest.attention}; cool-down rule {split['rule']} "
          f"(seed {args.seed}): {split['cooldown']['documents']} documents, "
          f"{split['cooldown']['characters'] / docs['chars'].sum():.3f} of characters; old rule (output tail): "
          f"{int(docs['tail'].sum())} documents, {docs.filter('tail')['chars'].sum() / docs['chars'].sum():.3f}")
    for unit, column in (("documents", None), ("characters", "chars")):
        weight = pl.len() if column is None else pl.col(column).sum()
        overall = docs.group_by("source").agg(weight.alias("n"))
        old = docs.filter("tail").group_by("source").agg(weight.alias("n"))
        total, old_total = overall["n"].sum(), max(old["n"].sum(), 1)
        old_of = dict(zip(old["source"], old["n"]))
        drawn = {s: v.get("cooldown", {}).get(unit, 0) for s, v in split["by_source"].items()}
        drawn_total = max(sum(drawn.values()), 1)
        print(f"\nshare of {unit}:\n{'source':28s} {'overall':>8s} {'drawn':>8s} {'old tail':>8s}")
        worst_new = worst_old = 0.0
        for source, n in sorted(zip(overall["source"], overall["n"]), key=lambda item: -item[1]):
            share, new, old_share = n / total, drawn.get(source, 0) / drawn_total, old_of.get(source, 0) / old_total
            worst_new, worst_old = max(worst_new, abs(new - share)), max(worst_old, abs(old_share - share))
            print(f"{source:28s} {share:8.3f} {new:8.3f} {old_share:8.3f}")
        print(f"largest gap to a source's overall share: drawn {worst_new:.3f}, old tail {worst_old:.3f}")
    return 100 * worst_new, 100 * worst_old  # of characters, the last table


def buckets(args: argparse.Namespace) -> None:
    from torch.utils.data import DataLoader

    from curate.bucket_loader import BucketBatches
    from curate.feed.schedule import cycle_batches

    sampler = BucketBatches(args.folder, tokens_per_batch=args.tokens_per_batch, cycles=args.cycles, seed=args.seed)
    batches = sampler.batches(1)
    live = {n: k for n, k in batches.items() if k}
    first = {n: sampler.odds[n] * k for n, k in live.items()}
    early, whole = Counter(), Counter()
    per_cycle = [sum(part.values()) for part in cycle_batches(live, args.cycles)]
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        order = sampler.order(1)
        whole.update(order)
        start = 0
        for size in per_cycle:  # draws of each cycle while no bucket has run out yet
            cycle, left = order[start:start + size], dict(Counter(order[start:start + size]))
            for length in cycle:
                if len(left) < len(live):
                    break
                early[length] += 1
                left[length] -= 1
                if not left[length]:
                    del left[length]
            start += size
    print(f"{args.folder}: tokens per batch {args.tokens_per_batch}, {args.cycles} cycles, odds {sampler.odds}")
    print(f"{'bucket':>7s} {'rows/batch':>10s} {'batches':>8s} {'odds':>6s} {'P(draw)':>8s} {'observed':>8s} "
          f"{'epoch share':>11s} {'batches share':>13s}")
    for n in sorted(live):
        print(f"{n:7d} {sampler.batch_size[n]:10d} {live[n]:8d} {sampler.odds[n]:6.0f} "
              f"{first[n] / sum(first.values()):8.3f} {early[n] / sum(early.values()):8.3f} "
              f"{whole[n] / sum(whole.values()):11.3f} {live[n] / sum(live.values()):13.3f}")
    print(f"observed over {sum(early.values())} draws made while every bucket was in the draw ({args.epochs} epochs)")
    sampler.set_epoch(0)
    seen = [(batch["length"], batch["input_ids"].numel()) for batch in DataLoader(sampler, batch_size=None)]
    assert [length for length, _ in seen] == sampler.order(1)
    print(f"one epoch of real batches: {len(seen)} batches, tokens per batch {sorted({t for _, t in seen})}")


def everything(args: argparse.Namespace) -> None:
    from benchmarks._compare import compare
    from curate.feed.pack import PackConfig, pack_output

    with tempfile.TemporaryDirectory() as scratch:
        output = args.output
        if args.smoke or not os.path.isfile(os.path.join(output, "_manifest.json")):
            output = _sample_output(os.path.join(scratch, "sample"), 400 if args.smoke else None)
        packed, buckets_folder = os.path.join(scratch, "packed"), os.path.join(scratch, "dd")
        pack_output(output, PackConfig(output=packed, seq_len=512 if args.smoke else None))
        for world, workers, equalize in ((2, 0, "none"), (2, 0, "pad"), (2, 0, "drop"), (4, 2, "pad")):
            ranks(argparse.Namespace(folder=packed, world=world, workers=workers, equalize=equalize, light=True))
        gaps = cooldown(argparse.Namespace(output=output, share=0.9, seed=0))
        compare("MeCo cool-down: largest gap between a source's share of characters overall and in the cool-down",
                "last 10% of output order", gaps[1], gaps[0], "points", higher_is_better=False)
        pack_output(output, PackConfig(output=buckets_folder, buckets=True, seq_len=1024 if args.smoke else 8192))
        buckets(argparse.Namespace(folder=buckets_folder, tokens_per_batch=2048 if args.smoke else 16384,
                                   cycles=2 if args.smoke else 8, epochs=5 if args.smoke else 200, seed=0))


def _sample_output(folder: str, limit: int | None) -> str:
    """The bundled sample's documents, in file order, as a run output folder (no manifest)."""
    import pyarrow.parquet as pq

    from benchmarks._corpora import sample_table

    table = sample_table().select(["id", "text", "source"])
    os.makedirs(folder)
    if limit:  # every k-th document: all sources, still in file order
        table = table.take(list(range(0, table.num_rows, max(table.num_rows // limit, 1))))
    pq.write_table(table, os.path.join(folder, "part-00000.parquet"))
    return folder


def main() -> None:
    from benchmarks._compare import add_smoke_flag

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_flag(parser)
    parser.add_argument("--output", default="out/default", help="a run's output folder (no command: all figures)")
    commands = parser.add_subparsers(dest="command")
    p = commands.add_parser("ranks")
    p.add_argument("folder")
    p.add_argument("--world", type=int, default=2)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--equalize", choices=["pad", "drop", "none"], default="pad")
    p.add_argument("--light", action="store_true", help="read only doc_ids")
    p = commands.add_parser("cooldown")
    p.add_argument("output")
    p.add_argument("--share", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p = commands.add_parser("buckets")
    p.add_argument("folder")
    p.add_argument("--tokens-per-batch", type=int, default=16384)
    p.add_argument("--cycles", type=int, default=8)
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    {"ranks": ranks, "cooldown": cooldown, "buckets": buckets, None: everything}[args.command](args)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
