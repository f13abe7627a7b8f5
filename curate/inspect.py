"""``curate inspect``: what a run's output folder (or bucket prefix) holds, read back with polars."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from curate.io import storage
from curate.io.frames import head
from curate.manifest import MANIFEST, has_manifest, read_manifest


def _shorten(value: object, width: int = 100) -> str:
    text = "" if value is None else str(value).replace("\n", "⏎ ")
    return escape(text if len(text) <= width else text[: width - 1] + "…")


def inspect_output(output: str, samples: int, console: Console) -> None:
    if not has_manifest(output):
        raise FileNotFoundError(f"{output} is not a curate output folder (no {MANIFEST}); run 'curate run' first")
    manifest = read_manifest(output)
    docs = manifest.documents
    shards = sorted(storage.glob(storage.join(output, "*.parquet")))
    dropped_files = sorted(storage.glob(storage.join(output, "_dropped", "*.parquet")))
    console.print(f"[bold]{storage.absolute(output)}[/]  (config {manifest.config_hash}, "
                  f"curate {manifest.versions.get('curate', '?')}, {manifest.wall_seconds:.1f}s)")
    balance = "holds" if docs.balanced else "[red]DOES NOT HOLD[/]"
    created = f" + {docs.created:,} created" if docs.created else ""
    console.print(f"documents: {docs.input:,} in{created}, {docs.output:,} out, {docs.dropped:,} dropped "
                  f"(in + created = out + dropped {balance}); {len(shards)} shard(s), "
                  f"{len(dropped_files)} dropped file(s)")

    funnel = Table(title="funnel", title_justify="left")
    for column in ("#", "stage", "kind", "in", "created", "out", "dropped", "kept %"):
        funnel.add_column(column, justify="left" if column in ("stage", "kind") else "right")
    for record in manifest.stages:
        total = record.documents_in + record.created
        kept = 100.0 * record.documents_out / total if total else 100.0
        funnel.add_row(str(record.index), record.name, record.kind, f"{record.documents_in:,}", f"{record.created:,}",
                       f"{record.documents_out:,}", f"{record.dropped_total:,}", f"{kept:.1f}")
    console.print(funnel)

    if docs.dropped:
        reasons = Table(title="drop reasons", title_justify="left")
        for column in ("stage", "reason", "documents"):
            reasons.add_column(column, justify="right" if column == "documents" else "left")
        for record in manifest.stages:
            for reason, count in record.dropped.items():
                reasons.add_row(record.name, reason, f"{count:,}")
        console.print(reasons)

    if shards:
        first = head(shards, max(samples, 1))
        console.print("schema: " + ", ".join(f"{name}: {dtype}" for name, dtype in first.schema.items()))
        if samples:
            console.print("[bold]sample output rows[/]")
            for row in first.head(samples).iter_rows(named=True):
                console.print(f"  {_shorten(row['id'])} ({_shorten(row.get('source'))}) {_shorten(row['text'])}", soft_wrap=True)
    if dropped_files and samples:
        console.print("[bold]sample dropped rows[/]")
        for row in head(dropped_files, samples).iter_rows(named=True):
            extra = f" duplicate_of={row['duplicate_of']}" if row["duplicate_of"] else ""
            console.print(f"  {_shorten(row['id'])} {row['stage']}/{row['reason']}{escape(extra)}: {_shorten(row['detail'] or row['text'])}",
                          soft_wrap=True)
