"""``curate annotate``: score a deterministic sample of documents with an LM and a rubric."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

import click
import yaml

from curate.annotate.output import annotation_table, check_output_path, summarize, write_annotations, write_summary
from curate.annotate.rubric import DEFAULT, Rubric
from curate.annotate.sample import sample_documents
from curate.annotate.scorer import METHODS, Annotation, Annotator
from curate.config import ConfigError, _validated
from curate.io.reader import InputError, ReaderConfig
from curate.lm import LMConfig, LMError, load_lm

INTERRUPTED = "not scored: interrupted"


def lm_config(pairs: tuple[str, ...]) -> LMConfig:
    """An :class:`LMConfig` from ``KEY=VALUE`` pairs (values read as YAML, as ``--set`` does)."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--lm {pair!r}: expected KEY=VALUE, e.g. --lm backend=openai")
        try:
            values[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            values[key.strip()] = raw
        if key.strip() in ("model", "api_key", "base_url", "model_file") and values[key.strip()] is not None:
            values[key.strip()] = str(values[key.strip()])  # a model named 7 stays the string "7"
    return _validated(LMConfig, values, "--lm")


@click.command("annotate")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True,
              help="Where to write the scores: a .parquet or .jsonl file (one row per sampled document); a "
                   "summary goes beside it as <stem>.annotate.json.")
@click.option("-n", "--sample", "sample_size", default=1000, show_default=True, type=click.IntRange(min=0),
              help="Documents to score, a deterministic sample (0: every document).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the sample (and of the model's sampling); a larger sample with the same seed "
                   "contains the smaller one.")
@click.option("--max-chars", default=3000, show_default=True, type=click.IntRange(min=1),
              help="The model sees the first this many characters of each document.")
@click.option("--rubric", "rubric_file", type=click.Path(exists=True, dir_okay=False),
              help="Your rubric: a text file; {document} marks where the document goes (else it is appended). "
                   "The answer is read as a digit 0-5. Default: an additive 0-5 educational-value rubric.")
@click.option("--method", type=click.Choice(METHODS), default="logprobs", show_default=True,
              help="logprobs: expected score from the probabilities of the digits 0-5 (a number in [0, 5]); "
                   "choice: the digit greedy decoding writes, constrained to 0-5 where the backend can.")
@click.option("--lm", "lm_pairs", multiple=True, metavar="KEY=VALUE",
              help="Model setting, as in a stage's lm: block, e.g. --lm backend=openai --lm model=NAME "
                   "--lm base_url=http://host:8000/v1 --lm server=vllm. Repeatable. Default: SmolLM2-135M-Instruct "
                   "on CPU through llama.cpp.")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1),
              help="Documents per model call (an OpenAI-compatible server gets them concurrently).")
@click.option("--max-failures", default=20, show_default=True, type=click.IntRange(min=1),
              help="Stop sending documents after this many failed ones in a row; the rest get a null score.")
@click.option("--text-field", default="text", show_default=True, help="Input field holding the text.")
@click.option("--id-field", default="id", show_default=True, help="Input field holding the document id.")
def annotate_command(inputs: tuple[str, ...], output: str, sample_size: int, seed: int, max_chars: int,
                     rubric_file: str | None, method: str, lm_pairs: tuple[str, ...], batch_size: int,
                     max_failures: int, text_field: str, id_field: str) -> None:
    """Score a sample of the documents in INPUTS (files, folders or globs, as 'curate run' reads them) from 0 to 5
    with a language model and a rubric: LM labels to train a quality classifier on, as FineWeb-Edu did.

    Every sampled document gets a row: id, source, text, score (null when the model failed on it, with the reason
    in 'error'), the most likely digit (answer), P(0..5) (logprobs), the model and the prompt's hash.

    \b
    Examples:
      curate annotate data/sample -o out/labels.parquet -n 300
      curate annotate 'corpus/*.jsonl.zst' -o labels.jsonl --rubric my_rubric.txt --method choice
      curate annotate corpus/ -o labels.parquet --lm backend=openai --lm model=Qwen/Qwen2.5-7B-Instruct \\
          --lm base_url=http://gpu-host:8000/v1 --lm server=vllm --batch-size 64
    Then: curate train-classifier --kind head --data out/labels.parquet --label-field score --positive-from 3
    """
    try:
        check_output_path(output)
        config = lm_config(lm_pairs)
        rubric = Rubric.from_file(rubric_file) if rubric_file else DEFAULT
        sample = sample_documents(list(inputs), sample_size or None, seed,
                                  ReaderConfig(text_field=text_field, id_field=id_field))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    except (InputError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    documents = sample.documents
    if documents.num_rows == 0:
        raise click.ClickException(f"no readable document in {', '.join(inputs)} ({sample.read} records read, "
                                   f"quarantined: {sample.quarantined or 'none'}); check --text-field")
    click.echo(f"sampled {documents.num_rows:,} of {sample.read:,} records (seed {seed}); scoring with "
               f"{config.backend}:{config.model}, method {method}, rubric {rubric.name} ({rubric.hash})", err=True)
    try:
        lm = load_lm(config)
    except LMError as exc:
        raise click.ClickException(f"cannot load the model: {exc}. Check the --lm settings "
                                   f"(curate stages rewrite lists them under lm).") from None
    annotator = Annotator(lm, rubric, method, max_chars, batch_size, max_failures, seed)  # type: ignore[arg-type]
    texts = documents.column("text").to_pylist()
    started = time.perf_counter()
    annotations: list[Annotation] = []
    interrupted = False
    try:
        with _progress(len(texts)) as advance:
            for start in range(0, len(texts), batch_size):
                annotations += annotator.annotate(texts[start:start + batch_size])
                advance(min(batch_size, len(texts) - start))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        lm.close()
    annotations += [Annotation(None, error=INTERRUPTED) for _ in range(len(texts) - len(annotations))]
    model = f"{config.backend}:{config.model}"
    table = annotation_table(documents, annotations, model, rubric.hash, method)
    write_annotations(table, output)
    summary = summarize(table)
    write_summary(output, {
        "output": output, "model": model, "lm": config.model_dump(exclude={"api_key"}), "method": method,
        "constrained": annotator.constrained, "rubric": rubric.name, "prompt_hash": rubric.hash,
        "prompt_template": rubric.template, "max_chars": max_chars,
        "sample": {"requested": sample_size or None, "seed": seed, "records_read": sample.read,
                   "quarantined": sample.quarantined},
        "seconds": round(time.perf_counter() - started, 1), **summary})
    _report(summary, output, time.perf_counter() - started)
    if interrupted:
        click.echo("interrupted: the documents not scored are in the output with error "
                   f"{INTERRUPTED!r}; re-run the same command to score them all", err=True)
        sys.exit(130)
    if annotator.stopped:
        raise click.ClickException(f"{annotator.stopped}. Fix the model settings (--lm) or lower --max-chars, "
                                   "then re-run")


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A progress bar on a terminal (documents scored / sampled); a line per tenth of the work otherwise."""
    if not sys.stderr.isatty():
        done = [0]

        def advance(n: int) -> None:
            step = max(1, total // 10)
            if (done[0] + n) // step > done[0] // step or done[0] + n == total:
                click.echo(f"  scored {done[0] + n:,} of {total:,}", err=True)
            done[0] += n

        yield advance
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("  scoring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("scoring", total=total)
        yield lambda n: progress.advance(task, n)


def _report(summary: dict[str, Any], output: str, seconds: float) -> None:
    score = summary.get("score") or {}
    click.echo(f"{summary['scored']:,} scored, {summary['failed']:,} failed, {seconds:.1f}s; "
               f"mean score {score.get('mean', 'n/a')}, answers {summary.get('answers', {})}")
    for reason, count in (summary.get("errors") or {}).items():
        click.echo(f"  failed: {count:,} x {reason}")
    click.echo(f"annotations: {output}")
