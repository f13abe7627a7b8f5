"""``curate train-classifier``: train a quantised fastText classifier and report validation metrics."""

from __future__ import annotations

import json

import click

from curate.classify.records import read_records
from curate.classify.train import Example, TrainParams, train_classifier


def _labelled(paths: tuple[str, ...], text_field: str, label_field: str) -> list[Example]:
    return [(str(r[text_field] or ""), str(r[label_field])) for path in paths
            for r in read_records(path, [text_field, label_field]) if r[label_field] is not None]


def _sets(positive: tuple[str, ...], negative: tuple[str, ...], text_field: str,
          labels: tuple[str, str]) -> list[Example]:
    return [(str(r[text_field] or ""), label) for paths, label in ((positive, labels[0]), (negative, labels[1]))
            for path in paths for r in read_records(path, [text_field])]


@click.command("train-classifier")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Model file to write (.ftz when quantised); metrics go beside it as <stem>.metrics.json.")
@click.option("--data", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Labelled JSONL (.gz/.zst), Parquet or CSV with a text and a label column. Repeatable.")
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
@click.option("--negative-label", default="negative", show_default=True, help="Label of --negative texts.")
@click.option("--validation-fraction", default=0.1, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--epoch", default=5, show_default=True, type=int)
@click.option("--lr", default=0.1, show_default=True, type=float)
@click.option("--dim", default=64, show_default=True, type=int)
@click.option("--word-ngrams", default=2, show_default=True, type=int)
@click.option("--bucket", default=200_000, show_default=True, type=int)
@click.option("--cutoff", default=50_000, show_default=True, type=int, help="Words and n-grams kept when quantising.")
@click.option("--no-quantize", is_flag=True, help="Write the full model (.bin); much larger.")
def train_classifier_command(output: str, data: tuple[str, ...], positive: tuple[str, ...],
                             negative: tuple[str, ...], validate_on: tuple[str, ...],
                             validate_positive: tuple[str, ...], validate_negative: tuple[str, ...], text_field: str,
                             label_field: str, positive_label: str | None, negative_label: str,
                             validation_fraction: float, seed: int, epoch: int, lr: float, dim: int,
                             word_ngrams: int, bucket: int, cutoff: int, no_quantize: bool) -> None:
    """Train a fastText classifier (word bigrams) for the classify stage.

    \b
    Examples:
      curate train-classifier --positive good.jsonl --negative spam.jsonl -o models/mine.ftz
      curate train-classifier --data labelled.parquet --positive-label hq -o hq.ftz --validate-on other.jsonl
    """
    if not data and not (positive and negative):
        raise click.UsageError("give --data (labelled files) or both --positive and --negative")
    if data and (positive or negative):
        raise click.UsageError("give either --data or --positive/--negative, not both")
    pos_label = positive_label or ("positive" if positive else None)
    try:
        examples = (_sets(positive, negative, text_field, (pos_label, negative_label)) if positive  # type: ignore[arg-type]
                    else _labelled(data, text_field, label_field))
        if pos_label is None:
            pos_label = _default_positive({label for _, label in examples})
        validation = None
        if validate_on or validate_positive or validate_negative:
            validation = _labelled(validate_on, text_field, label_field)
            validation += _sets(validate_positive, validate_negative, text_field, (pos_label, negative_label))
        params = TrainParams(epoch=epoch, lr=lr, dim=dim, word_ngrams=word_ngrams, bucket=bucket, cutoff=cutoff,
                             quantize=not no_quantize, validation_fraction=validation_fraction, seed=seed)
        report = train_classifier(examples, output, pos_label, validation, params)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    m = report.metrics
    click.echo(f"model: {report.model_path} (labels {', '.join(report.labels)}; {report.train_examples} training "
               f"examples, {report.validation_examples} validation)")
    if m:
        click.echo(f"validation ({report.positive_label!r} vs rest, cut 0.5): precision {m['precision']:.4f}  "
                   f"recall {m['recall']:.4f}  F1 {m['f1']:.4f}  ROC AUC {_fmt(m['roc_auc'])}")
    click.echo(f"metrics: {report.metrics_path}")
    click.echo(json.dumps(m))


def _fmt(value: float | None) -> str:
    return "n/a (one class only)" if value is None else f"{value:.4f}"


def _default_positive(labels: set[str]) -> str:
    for negative, positive in (("0", "1"), ("false", "true"), ("False", "True"), ("negative", "positive")):
        if labels == {negative, positive}:
            return positive
    raise ValueError(f"labels are {sorted(labels)}: say which one is positive with --positive-label")
