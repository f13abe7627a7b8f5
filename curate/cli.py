"""The ``curate`` command line: run, validate, inspect, stages."""

from __future__ import annotations

import contextlib
import sys
import traceback
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from curate import __version__
from curate.annotate.command import annotate_command
from curate.classify.command import train_classifier_command
from curate.config import PipelineConfig, load_pipeline
from curate.errors import ConfigError, InputError, StorageError
from curate.io.storage import absolute, disk_error, probe
from curate.manifest import Manifest

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)

EXIT_USAGE = 2
EXIT_FAILED = 1


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="curate")
def main() -> None:
    """Curate pretraining text: read JSONL/Parquet, run YAML-defined stages on Ray,
    write sharded Parquet with a manifest and a table of every dropped document.

    \b
    Quick start:
      curate stages                                   # what stages exist
      curate run pipelines/default.yaml --input data/sample --output out/default
      curate inspect out/default                      # funnel, drop reasons, samples
    """


main.add_command(train_classifier_command)
main.add_command(annotate_command)


def _load(pipeline: str, overrides: tuple[str, ...]) -> PipelineConfig:
    try:
        return load_pipeline(pipeline, list(overrides))
    except ConfigError as exc:
        _fail(str(exc))
        raise  # unreachable


SET_HELP = "Override a parameter: STAGE.PARAM=VALUE (STAGE is a stage name, its 1-based position, 'reader' or 'writer'). Repeatable."


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("-i", "--input", "inputs", multiple=True, help="Input file, folder or glob (JSONL, .gz, .zst, Parquet, WARC), "
              "local or in a bucket (s3://, gs://, hf://). Repeatable; replaces the pipeline's input.")
@click.option("-o", "--output", help="Output folder or bucket prefix (s3://bucket/prefix); replaces the pipeline's output.")
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE", help=SET_HELP)
@click.option("--text-field", help="Input field holding the text (default: text).")
@click.option("--id-field", help="Input field holding the document id (default: id).")
@click.option("--strict", is_flag=True, help="Stop at the first bad input record instead of quarantining it.")
@click.option("--force", is_flag=True, help="Recompute every stage instead of resuming from checkpoints.")
@click.option("--keep-checkpoints/--no-keep-checkpoints", default=None,
              help="Keep OUT/_stages/ after a successful run (default: the pipeline's keep_checkpoints, true). "
                   "Without them a re-run recomputes everything.")
@click.option("--address", envvar="RAY_ADDRESS", help="Ray cluster address (default: start Ray locally; also RAY_ADDRESS).")
@click.option("--num-cpus", type=int, help="CPUs for a local Ray (default: all).")
@click.option("--debug", is_flag=True, help="Show full tracebacks on failure.")
def run(pipeline: str, inputs: tuple[str, ...], output: str | None, overrides: tuple[str, ...],
        text_field: str | None, id_field: str | None, strict: bool, force: bool, keep_checkpoints: bool | None,
        address: str | None, num_cpus: int | None, debug: bool) -> None:
    """Run PIPELINE (a YAML file) over the input and write the output folder.

    Re-running the same command resumes after the last finished stage.
    """
    extra = list(overrides)
    if text_field:
        extra.append(f"reader.text_field={text_field}")
    if id_field:
        extra.append(f"reader.id_field={id_field}")
    if strict:
        extra.append("reader.strict=true")
    config = _load(pipeline, tuple(extra))
    if inputs:
        config.input = list(inputs)
    if output:
        config.output = output
    if keep_checkpoints is not None:
        config.keep_checkpoints = keep_checkpoints
    if not config.input:
        _fail("no input: pass --input PATH or set 'input' in the pipeline")
    if not config.output:
        _fail("no output: pass --output FOLDER or set 'output' in the pipeline")

    from curate.errors import StageError
    from curate.ray_env import init_ray
    from curate.runner import run_pipeline

    try:
        from curate.io.reader import check_inputs, resolve_inputs

        # fail fast on a bad path, an unreachable store or an unreadable Parquet file, before starting Ray
        check_inputs(resolve_inputs(config.input, exclude=config.output), config.reader)
        probe(config.output)
        show_progress = sys.stderr.isatty()
        init_ray(address, num_cpus=num_cpus, show_progress=show_progress, debug=debug)
        total = len(config.stages) + 1
        with _unit_progress(show_progress) as on_progress:
            manifest = run_pipeline(config, force=force, on_event=_progress_printer(total), on_progress=on_progress)
    except (ConfigError, InputError) as exc:
        if debug:
            traceback.print_exc()
        _fail(str(exc))
    except StorageError as exc:
        if debug:
            traceback.print_exc()
        _fail(f"{exc}\n(no output was completed; re-run the same command to resume)", EXIT_FAILED)
    except StageError as exc:
        if debug:
            traceback.print_exc()
        _fail(f"{exc}\n(re-run with --debug for the traceback; finished stages are kept and resumed)", EXIT_FAILED)
    except OSError as exc:  # the driver's own file I/O (local writes go through storage.local_writes)
        if debug:
            traceback.print_exc()
        _fail(f"{disk_error(str(config.output), exc) or exc}\n(no output was completed; fix this and re-run the same "
              "command to resume)", EXIT_FAILED)
    except KeyboardInterrupt:
        _fail("interrupted; re-run the same command to resume after the last finished stage", 130)
    _print_summary(manifest, absolute(config.output))
    if config.pack is not None:
        out.print(f"packed tokens: {config.pack.packed_folder(absolute(config.output))}",
                  soft_wrap=True)


@contextlib.contextmanager
def _unit_progress(enabled: bool):
    """A progress bar per step (units done / all units) on a terminal; nothing otherwise."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars: dict[str, Any] = {}
    with Progress(TextColumn("  {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        def on_progress(label: str, done: int, total: int) -> None:
            if label not in bars:
                bars[label] = progress.add_task(f"{label} (parts)", total=total)
            progress.update(bars[label], completed=done, total=total)
        yield on_progress


def _progress_printer(total: int):
    def on_event(event: str, record: Any) -> None:
        if record.name == "write":
            console.print("[dim]writing shards ...[/]")
            return
        label = f"[{record.index}/{total - 1 if total > 1 else 0}] {record.name}"
        if event == "start":
            console.print(f"[cyan]▶[/] {label} ...")
        elif event == "done":
            dropped = sum(record.dropped.values())
            note = " [dim](resumed)[/]" if record.resumed else ""
            created = f" + {record.created:,} created" if record.created else ""
            console.print(f"[green]✓[/] {label}: {record.documents_in:,} in{created} → {record.documents_out:,} out, "
                          f"{dropped:,} dropped, {record.seconds:.1f}s{note}")
    return on_event


def _print_summary(manifest: Manifest, output: str) -> None:
    table = Table(title="curate run", title_justify="left")
    for column in ("#", "stage", "kind", "in", "created", "out", "dropped", "seconds"):
        table.add_column(column, justify="left" if column in ("stage", "kind") else "right")
    for record in manifest.stages:
        seconds = f"{record.seconds:.1f}" + (" (resumed)" if record.resumed else "")
        table.add_row(str(record.index), record.name, record.kind, f"{record.documents_in:,}", f"{record.created:,}",
                      f"{record.documents_out:,}", f"{record.dropped_total:,}", seconds)
    out.print(table)
    reasons = [f"{r.name}/{reason}={count:,}" for r in manifest.stages for reason, count in r.dropped.items()]
    if reasons:
        out.print("dropped by reason: " + ", ".join(reasons), soft_wrap=True)
    docs = manifest.documents
    created = f" + {docs.created:,} created" if docs.created else ""
    out.print(f"documents: {docs.input:,} in{created} = {docs.output:,} out + {docs.dropped:,} dropped; "
              f"{len(manifest.output.shards)} shard(s), {manifest.wall_seconds:.1f}s", soft_wrap=True)
    out.print(f"output: {output}  (pl.scan_parquet('{output}/*.parquet'); dropped documents: {output}/_dropped/)",
              soft_wrap=True)


@main.command()
@click.argument("pipeline", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE", help=SET_HELP)
def validate(pipeline: str, overrides: tuple[str, ...]) -> None:
    """Check PIPELINE without running it: stage names, parameters, reader and writer settings."""
    config = _load(pipeline, overrides)
    for position, stage in enumerate(config.build_stages(), start=1):
        params = ", ".join(f"{k}={v!r}" for k, v in stage.params.model_dump().items())
        kinds = "+".join(step.kind for step in stage.decompose())
        out.print(f"{position}. {stage.name} ({kinds}): {escape(params)}", soft_wrap=True)
    if config.pack is not None:
        out.print(f"then pack: {escape(str(config.pack.model_dump(exclude_defaults=True)))}")
    out.print(f"[green]ok[/]: {pipeline} is valid ({len(config.stages)} stage(s), config hash {config.config_hash()})")


@main.command()
@click.argument("name", required=False)
def stages(name: str | None) -> None:
    """List the available stages and their parameters (or one stage's, with NAME)."""
    from curate.stages import get_stage_class, stage_names

    names = [name] if name else stage_names()
    for stage_name in names:
        try:
            cls = get_stage_class(stage_name)
        except KeyError as exc:
            _fail(str(exc.args[0]))
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        out.print(f"[bold]{stage_name}[/] ({cls.kind}) {escape(doc)}", soft_wrap=True)
        for field_name, field in cls.Params.model_fields.items():
            annotation = _type_name(field.annotation)
            default = "required" if field.is_required() else repr(field.default)
            out.print(f"    {field_name}: {escape(annotation)} = {escape(default)}  [dim]{escape(field.description or '')}[/]",
                      soft_wrap=True)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("-n", "--samples", default=3, show_default=True, help="Sample rows to show from the output and from the dropped table.")
def inspect(output: str, samples: int) -> None:
    """Summarise a run's OUTPUT folder: counts, funnel by stage, drop reasons, schema, sample rows."""
    from curate.inspect import inspect_output

    try:
        inspect_output(output, samples, out)
    except (FileNotFoundError, StorageError) as exc:
        _fail(str(exc))


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("-o", "--into", "into", help="Folder for the packed shards (default: OUTPUT/_packed).")
@click.option("--tokenizer", default="default", show_default=True,
              help="'default' (the default LM's, read from its GGUF), a tokenizer.json, a local Hugging Face tokenizer "
                   "folder or a .gguf file.")
@click.option("--seq-len", type=int, help="Tokens per row (the largest bucket); default: the icp_reorder context "
                                         "length for in-context-pretraining output, else 2048.")
@click.option("--eos-token", help="Token after each document (default: <|endoftext|> or the tokenizer's EOS).")
@click.option("--metadata", help="Prepend metadata (MeCo): 'domain', 'source', or an output column or meta key.")
@click.option("--metadata-share", type=float, default=0.9, show_default=True,
              help="Share of the documents (whole contexts together, drawn at random with --seed) that gets the "
                   "prefix; the rest is the plain cool-down.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the cool-down draw and of the bucket piece lengths.")
@click.option("--metadata-template", help="Prefix with {value}, e.g. 'URL: {value}\\n\\n' (\\n is a newline).")
@click.option("--buckets", is_flag=True, help="Dataset decomposition: power-of-two length buckets.")
@click.option("--min-bucket", type=int, default=256, show_default=True, help="Smallest bucket (a power of two).")
@click.option("--overflow", type=click.Choice(["random", "largest"]), default="random", show_default=True,
              help="Buckets: cut documents longer than --seq-len into random piece lengths (dataset "
                   "decomposition) or into whole --seq-len pieces.")
@click.option("--align-contexts/--no-align-contexts", default=None,
              help="Start a new row at every context_id (default: on for in-context-pretraining output).")
def pack(output: str, into: str | None, tokenizer: str, seq_len: int | None, eos_token: str | None,
         metadata: str | None, metadata_share: float, seed: int, metadata_template: str | None, buckets: bool,
         min_bucket: int, overflow: str, align_contexts: bool | None) -> None:
    """Tokenise a run's OUTPUT and pack it into fixed-length token rows (Parquet list columns)."""
    from pydantic import ValidationError

    from curate.feed.pack import PackConfig, pack_output
    from curate.feed.tokenizer import TokenizerError

    try:
        config = PackConfig(tokenizer=tokenizer, seq_len=seq_len, eos_token=eos_token, output=into, metadata=metadata,
                            metadata_share=metadata_share, seed=seed, buckets=buckets, min_bucket=min_bucket,
                            overflow=overflow, align_contexts=align_contexts,
                            metadata_template=metadata_template.replace("\\n", "\n") if metadata_template else None)
        manifest = pack_output(output, config)
    except ValidationError as exc:
        _fail("; ".join(error["msg"].removeprefix("Value error, ") for error in exc.errors()))
    except (TokenizerError, FileNotFoundError, StorageError) as exc:
        _fail(str(exc))
    folder = config.packed_folder(output)
    lengths = ", ".join(f"{n:,} x {length}" for length, n in manifest.sequences_by_length.items())
    out.print(f"{manifest.documents:,} documents, {manifest.document_tokens:,} tokens "
              f"({manifest.tokenizer['name']}) -> {manifest.sequences:,} sequences ({lengths}), "
              f"{manifest.padding_tokens:,} padding tokens, {manifest.metadata_documents:,} with metadata; "
              f"attention: {manifest.attention}; {manifest.seconds:.1f}s", soft_wrap=True)
    out.print(f"packed: {folder}  (pl.scan_parquet('{folder}/**/*.parquet'); curate.loader.CurateDataset('{folder}'))",
              soft_wrap=True)


@main.command()
@click.argument("output", type=click.Path(file_okay=False))
@click.option("--html", "path", type=click.Path(dir_okay=False), help="Where to write the page (default: OUTPUT/report.html).")
@click.option("--tokenizer", default="default", show_default=True,
              help="Tokenizer for the token counts: 'default' (the default LM's), a local path, or 'estimate' "
                   "(characters / 4).")
def report(output: str, path: str | None, tokenizer: str) -> None:
    """Write one self-contained HTML page about a run's OUTPUT: funnel, drops, scores, mix, dedup, order, rewrites."""
    from curate.report import write_report

    try:
        written = write_report(output, path, tokenizer)
    except FileNotFoundError as exc:
        _fail(f"{exc}; is {output} the output folder of 'curate run'?")
    except StorageError as exc:
        _fail(str(exc))
    out.print(f"report: {absolute(written)}  (open it in a browser; it needs no network)", soft_wrap=True)


if __name__ == "__main__":  # pragma: no cover
    main()
