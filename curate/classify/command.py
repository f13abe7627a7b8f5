"""``curate train-classifier``: train a classifier (fastText, or a linear head on MiniLM embeddings) and report
validation metrics."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import click

from curate.classify.records import read_records
from curate.classify.split import grouped_split, text_group
from curate.classify.train import Example, TrainParams, train_classifier

KINDS = ("fasttext", "head")


@dataclass(frozen=True)
class Row:
    """One labelled text; ``grade`` is the numeric label a ``--positive-from`` cut was made from."""

    text: str
    label: str
    group: str | None = None
    grade: float | None = None


def _labelled(paths: tuple[str, ...], text_field: str, label_field: str, group_field: str | None) -> list[Row]:
    fields = [text_field, label_field] + ([group_field] if group_field else [])
    return [Row(str(r[text_field] or ""), str(r[label_field]), _group(r, group_field)) for path in paths
            for r in read_records(path, fields) if r[label_field] is not None]


def _sets(positive: tuple[str, ...], negative: tuple[str, ...], text_field: str, labels: tuple[str, str],
          group_field: str | None) -> list[Row]:
    fields = [text_field] + ([group_field] if group_field else [])
    return [Row(str(r[text_field] or ""), label, _group(r, group_field))
            for paths, label in ((positive, labels[0]), (negative, labels[1]))
            for path in paths for r in read_records(path, fields)]


def _group(record: dict[str, Any], group_field: str | None) -> str | None:
    return None if group_field is None else str(record[group_field])


def cut_labels(rows: list[Row], positive_from: float, label_field: str) -> tuple[list[Row], tuple[str, str]]:
    """Numeric labels made binary: ``label >= positive_from`` is positive; returns the rows and (negative,
    positive) label names such as ``score<3`` and ``score>=3``."""
    names = (f"{label_field}<{positive_from:g}", f"{label_field}>={positive_from:g}")
    out = []
    for row in rows:
        try:
            grade = float(row.label)
        except ValueError:
            raise ValueError(f"label {row.label!r} in {label_field!r} is not a number; --positive-from needs "
                             "numeric labels (or use --positive-label)") from None
        out.append(Row(row.text, names[grade >= positive_from], row.group, grade))
    return out, names


@click.command("train-classifier")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (fastText: .ftz when quantised; head: .npz); metrics go beside it as "
                   "<stem>.metrics.json.")
@click.option("--kind", type=click.Choice(KINDS), default="fasttext", show_default=True,
              help="fasttext: word bigrams (the classify stage); head: logistic regression on all-MiniLM-L6-v2 "
                   "embeddings (the classify_embedding stage), slower but it reads meaning, not a source's words.")
@click.option("--data", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled JSONL (.gz/.zst), Parquet or CSV with a text and a label column (e.g. the output of "
                   "curate annotate). Repeatable.")
@click.option("--positive", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File whose texts are all positive examples. Repeatable.")
@click.option("--negative", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="File whose texts are all negative examples. Repeatable.")
@click.option("--validate-on", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled files to validate on instead of a split (e.g. other sources). Repeatable.")
@click.option("--validate-positive", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Positive files to validate on instead of a split. Repeatable.")
@click.option("--validate-negative", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Negative files to validate on instead of a split. Repeatable.")
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@click.option("--positive-label", default=None,
              help="The label whose probability is scored (default: 'positive' with --positive/--negative; "
                   "required with --data unless the labels are 0/1 or false/true).")
@click.option("--positive-from", type=float, default=None,
              help="Numeric labels (e.g. curate annotate's 0-5 score): a label >= this value is positive, "
                   "below it negative; rows without a label are left out.")
@click.option("--negative-label", default="negative", show_default=True, help="Label of --negative texts.")
@click.option("--group-field", default=None,
              help="Column whose equal values stay on one side of the validation split (a source, a site). "
                   "Default: fasttext removes exact duplicate texts; head keeps texts equal up to case and "
                   "whitespace together.")
@click.option("--validation-fraction", default=0.1, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--epoch", default=5, show_default=True, type=int, help="fasttext only.")
@click.option("--lr", default=0.1, show_default=True, type=float, help="fasttext only.")
@click.option("--dim", default=64, show_default=True, type=int, help="fasttext only.")
@click.option("--word-ngrams", default=2, show_default=True, type=int, help="fasttext only.")
@click.option("--bucket", default=200_000, show_default=True, type=int, help="fasttext only.")
@click.option("--cutoff", default=50_000, show_default=True, type=int,
              help="fasttext only: words and n-grams kept when quantising.")
@click.option("--no-quantize", is_flag=True, help="fasttext only: write the full model (.bin); much larger.")
@click.option("--max-tokens", default=128, show_default=True, type=click.IntRange(min=2),
              help="head only: tokens of each text embedded (the classify_embedding stage's max_tokens).")
@click.option("--l2", default=1e-3, show_default=True, type=click.FloatRange(min=0),
              help="head only: L2 penalty of the logistic regression.")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="head only: torch threads for the embeddings.")
def train_classifier_command(output: str, kind: str, data: tuple[str, ...], positive: tuple[str, ...],
                             negative: tuple[str, ...], validate_on: tuple[str, ...],
                             validate_positive: tuple[str, ...], validate_negative: tuple[str, ...], text_field: str,
                             label_field: str, positive_label: str | None, positive_from: float | None,
                             negative_label: str, group_field: str | None, validation_fraction: float, seed: int,
                             epoch: int, lr: float, dim: int, word_ngrams: int, bucket: int, cutoff: int,
                             no_quantize: bool, max_tokens: int, l2: float, threads: int) -> None:
    """Train a classifier for the classify stage (fastText, word bigrams) or the classify_embedding stage (a
    linear head on all-MiniLM-L6-v2 embeddings).

    \b
    Examples:
      curate train-classifier --positive good.jsonl --negative spam.jsonl -o models/mine.ftz
      curate train-classifier --data labelled.parquet --positive-label hq -o hq.ftz --validate-on other.jsonl
      curate train-classifier --kind head --data labels.parquet --label-field score --positive-from 3 -o edu.npz
    """
    if not data and not (positive and negative):
        raise click.UsageError("give --data (labelled files) or both --positive and --negative")
    if data and (positive or negative):
        raise click.UsageError("give either --data or --positive/--negative, not both")
    if positive_from is not None and (positive or positive_label):
        raise click.UsageError("--positive-from cuts numeric labels of --data; it does not go with "
                               "--positive/--negative or --positive-label")
    suffix = os.path.splitext(output)[1].lower()
    if (kind == "head" and suffix in (".ftz", ".bin")) or (kind == "fasttext" and suffix == ".npz"):
        raise click.UsageError(f"--output {output}: a {kind} model is written as "
                               f"{'.npz' if kind == 'head' else '.ftz (or .bin)'}")
    pos_label = positive_label or ("positive" if positive else None)
    try:
        rows = (_sets(positive, negative, text_field, (pos_label, negative_label), group_field)  # type: ignore[arg-type]
                if positive else _labelled(data, text_field, label_field, group_field))
        validation = None
        if validate_on or validate_positive or validate_negative:
            validation = _labelled(validate_on, text_field, label_field, group_field)
            validation += _sets(validate_positive, validate_negative, text_field,
                                (pos_label or "positive", negative_label), group_field)
        names = None
        if positive_from is not None:
            rows, names = cut_labels(rows, positive_from, label_field)
            validation = None if validation is None else cut_labels(validation, positive_from, label_field)[0]
            pos_label = names[1]
        if pos_label is None:
            pos_label = _default_positive({row.label for row in rows})
        if validation is None and (group_field or kind == "head"):
            held = grouped_split([row.group or text_group(row.text) for row in rows], validation_fraction, seed)
            rows, validation = [r for r, h in zip(rows, held) if not h], [r for r, h in zip(rows, held) if h]
        if kind == "head":
            _train_head(rows, validation or [], output, pos_label, names, max_tokens, l2, threads,
                        {"split": _split_note(group_field, validate_on or validate_positive or validate_negative,
                                              validation_fraction, seed),
                         "positive_rule": None if positive_from is None else f"{label_field} >= {positive_from:g}"})
            return
        params = TrainParams(epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, bucket=bucket, cutoff=cutoff,
                             quantize=not no_quantize, validation_fraction=validation_fraction, seed=seed)
        report = train_classifier(_examples(rows), output, pos_label,
                                  None if validation is None else _examples(validation), params)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    m = report.metrics
    click.echo(f"model: {report.model_path} (labels {', '.join(report.labels)}; {report.train_examples} training "
               f"examples, {report.validation_examples} validation)")
    _echo_metrics(report.positive_label, m, report.metrics_path)


def _examples(rows: list[Row]) -> list[Example]:
    return [(row.text, row.label) for row in rows]


def _train_head(rows: list[Row], validation: list[Row], output: str, pos_label: str,
                names: tuple[str, str] | None, max_tokens: int, l2: float, threads: int,
                details: dict[str, Any]) -> None:
    from curate.classify.head_train import as_examples, train_head_classifier
    from curate.icp.embed import EmbedderError

    if names is None:
        others = sorted({row.label for row in rows + validation} - {pos_label})
        names = (others[0] if len(others) == 1 else f"not_{pos_label}", pos_label)

    def examples(part: list[Row]) -> Any:
        grades = [row.grade for row in part] if part and part[0].grade is not None else None
        return as_examples([row.text for row in part], [row.label == pos_label for row in part], grades)

    try:
        report = train_head_classifier(examples(rows), examples(validation), output, names, max_tokens, l2, threads,
                                       details)
    except EmbedderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"head: {report.model_path} (labels {', '.join(report.labels)}; {report.train_examples} training "
               f"examples, {report.validation_examples} validation)")
    _echo_metrics(pos_label, report.metrics, report.metrics_path)


def _split_note(group_field: str | None, given: tuple[str, ...], fraction: float, seed: int) -> dict[str, Any]:
    if given:
        return {"validation": "given files"}
    return {"validation_fraction": fraction, "seed": seed,
            "grouped_by": group_field or "text (case and whitespace folded)"}


def _echo_metrics(positive_label: str, m: dict[str, Any], metrics_path: str) -> None:
    if m:
        click.echo(f"validation ({positive_label!r} vs rest, cut 0.5): precision {m['precision']:.4f}  "
                   f"recall {m['recall']:.4f}  F1 {m['f1']:.4f}  ROC AUC {_fmt(m['roc_auc'])}")
    click.echo(f"metrics: {metrics_path}")
    click.echo(json.dumps(m))


def _fmt(value: float | None) -> str:
    return "n/a (one class only)" if value is None else f"{value:.4f}"


def _default_positive(labels: set[str]) -> str:
    for negative, positive in (("0", "1"), ("false", "true"), ("False", "True"), ("negative", "positive")):
        if labels == {negative, positive}:
            return positive
    raise ValueError(f"labels are {sorted(labels)}: say which one is positive with --positive-label")
