"""Training a fastText classifier: word bigrams, a seeded validation split, a quantised model and its metrics.

The recipe follows DCLM's quality classifier (``fasttext.train_supervised``
with ``wordNgrams=2``, texts on one line) with a smaller hashing ``bucket`` and
``quantize()``, so models weigh a few MB instead of hundreds.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from curate.classify.fasttext_model import LABEL_PREFIX, predict_scores, prepare
from curate.classify.metrics import binary_metrics

Example = tuple[str, str]  # (text, label)


class TrainParams(BaseModel):
    """fastText hyper-parameters and the split; defaults as in DCLM except a smaller model."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(5, ge=1)
    lr: float = Field(0.1, gt=0)
    dim: int = Field(64, ge=2, description="Vector size; must be even for quantisation.")
    word_ngrams: int = Field(2, ge=1, description="2: unigrams and word bigrams.")
    min_count: int = Field(1, ge=1)
    bucket: int = Field(200_000, ge=1000, description="Hash buckets for n-grams; fastText's 2,000,000 makes 100+ MB models.")
    cutoff: int = Field(50_000, ge=0, description="Words and n-grams kept when quantising (0: all); quantising "
                                                 "time and model size grow with it.")
    dsub: int = Field(4, ge=1, description="Dimensions per product-quantisation sub-vector (larger: smaller, coarser).")
    quantize: bool = True
    max_chars: int = Field(20_000, ge=1, description="Longer texts are cut to this many characters for training.")
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    threads: int = Field(1, ge=1, description="1 makes training reproducible.")


@dataclass
class TrainReport:
    model_path: str
    metrics_path: str
    labels: list[str]
    positive_label: str
    train_examples: int
    validation_examples: int
    metrics: dict[str, Any] = field(default_factory=dict)


def clean_label(label: Any) -> str:
    """A label as fastText accepts it: no whitespace."""
    text = re.sub(r"\s+", "_", str(label).strip())
    if not text:
        raise ValueError("empty label")
    return text


def split_examples(examples: Sequence[Example], fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Exact-duplicate texts removed (so no text is in both parts), then a seeded random split."""
    unique = list({text: (text, label) for text, label in examples}.values())
    random.Random(seed).shuffle(unique)
    n_valid = int(round(len(unique) * fraction))
    return unique[n_valid:], unique[:n_valid]


def _write_training_file(examples: Iterable[Example], handle: Any, max_chars: int) -> int:
    count = 0
    for text, label in examples:
        line = prepare([text[:max_chars]])[0].strip()
        if line:
            handle.write(f"{LABEL_PREFIX}{clean_label(label)} {line}\n")
            count += 1
    return count


def train_classifier(train: Sequence[Example], output: str, positive_label: str,
                     validation: Sequence[Example] | None = None, params: TrainParams | None = None) -> TrainReport:
    """Train on ``train`` and write the model to ``output`` and its metrics to ``<output stem>.metrics.json``.

    Without ``validation``, ``params.validation_fraction`` of ``train`` (after
    exact-duplicate removal) is held out with ``params.seed``. Metrics are for
    ``positive_label`` against the rest: precision, recall and F1 at
    P(positive) >= 0.5, and ROC AUC.
    """
    import fasttext

    params = params or TrainParams()
    positive_label = clean_label(positive_label)
    if validation is None:
        train, validation = split_examples(train, params.validation_fraction, params.seed)
    labels = sorted({clean_label(label) for _, label in train})
    if positive_label not in labels:
        raise ValueError(f"positive label {positive_label!r} is not among the training labels {labels}")
    if len(labels) < 2:
        raise ValueError(f"training needs at least two labels, found {labels}")
    if params.quantize and params.dim % params.dsub:
        raise ValueError(f"dim={params.dim}: quantisation needs a dim divisible by dsub={params.dsub}")
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
        shuffled = list(train)
        random.Random(params.seed).shuffle(shuffled)
        written = _write_training_file(shuffled, handle, params.max_chars)
    try:
        if not written:
            raise ValueError("no non-empty training texts")
        _train_in_child(handle.name, output, params)
    finally:
        os.unlink(handle.name)
    model = fasttext.load_model(output)
    metrics = evaluate(model, validation, positive_label)
    metrics_path = metrics_path_of(output)
    report = TrainReport(model_path=output, metrics_path=metrics_path, labels=labels, positive_label=positive_label,
                         train_examples=written, validation_examples=len(validation), metrics=metrics)
    with open(metrics_path, "w", encoding="utf-8") as out:
        json.dump({"model": os.path.basename(output), "labels": labels, "positive_label": positive_label,
                   "train_examples": written, "validation": metrics, "params": params.model_dump(),
                   "model_bytes": os.path.getsize(output)}, out, indent=2)
    return report


def _train_in_child(path: str, output: str, params: TrainParams) -> None:
    """Train, quantise and save in a fresh process.

    fastText's training is not reliable inside a long-lived process: on small
    training sets it intermittently reports "Encountered NaN" or returns an
    untrained model there, while a fresh process trains the same input
    reliably. A child process also keeps a crash inside fastText from taking
    the caller down.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    code = ("import json, sys; from curate.classify.train import _train_and_save; "
            "_train_and_save(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))")
    done = subprocess.run([sys.executable, "-c", code, path, output, params.model_dump_json()], env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise ValueError(lines[-1].removeprefix("ValueError: ") if lines else f"training exited with {done.returncode}")


def _train_and_save(path: str, output: str, values: dict[str, Any]) -> None:
    import fasttext

    params = TrainParams(**values)
    try:
        model = fasttext.train_supervised(
            input=path, epoch=params.epoch, lr=params.lr, dim=params.dim, wordNgrams=params.word_ngrams,
            minCount=params.min_count, bucket=params.bucket, thread=params.threads, seed=params.seed, verbose=0)
    except RuntimeError as exc:
        raise ValueError(f"training failed ({exc}): lower the learning rate (lr) or give more varied examples") from None
    if params.quantize:
        model.quantize(input=path, qnorm=True, retrain=params.cutoff > 0, cutoff=params.cutoff, dsub=params.dsub,
                       thread=params.threads, verbose=0)
    model.save_model(output)


def evaluate(model: Any, examples: Sequence[Example], positive_label: str) -> dict[str, Any]:
    """Metrics of P(``positive_label``) on labelled ``examples``."""
    if not examples:
        return {}
    column = model.labels.index(LABEL_PREFIX + positive_label)
    scores = predict_scores(model, [text for text, _ in examples])[:, column]
    positive = np.array([clean_label(label) == positive_label for _, label in examples])
    return binary_metrics(positive, scores)


def metrics_path_of(model_path: str) -> str:
    """Where the metrics of a model are written: beside it, ``<stem>.metrics.json``."""
    return os.path.splitext(model_path)[0] + ".metrics.json"
