"""Tiny fastText models trained in seconds for the classifier tests."""

from __future__ import annotations

import random
import tempfile
from functools import cache

from curate.classify.train import TrainParams, train_classifier

GOOD = "the report describes methods results and careful analysis of data in clear prose".split()
BAD = "buy cheap pills now click here free money winner casino viagra offer".split()
TINY = TrainParams(dim=16, bucket=10_000, epoch=25, lr=0.5, quantize=False, validation_fraction=0.2, seed=1)


NEUTRAL = [f"w{i}" for i in range(400)]


def sentence(rng: random.Random, words: list[str], n: int = 8) -> str:
    """``n`` words of ``words`` mixed with neutral filler, so no two texts are alike."""
    picked = [rng.choice(words) for _ in range(n)] + [rng.choice(NEUTRAL) for _ in range(n)]
    rng.shuffle(picked)
    return " ".join(picked)


def examples(count: int = 300, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` texts: half made of GOOD words (label ``hq``), half of BAD words (``lq``)."""
    rng = random.Random(seed)
    return [(sentence(rng, GOOD), "hq") if i % 2 else (sentence(rng, BAD), "lq") for i in range(count)]


def tiny_model(path: str, labels: tuple[str, str] = ("hq", "lq")) -> str:
    """A two-label model: ``labels[0]`` for GOOD-word texts, ``labels[1]`` for BAD-word texts."""
    rename = {"hq": labels[0], "lq": labels[1]}
    train_classifier([(t, rename[lab]) for t, lab in examples()], path, labels[0], params=TINY)
    return path


@cache
def shared_model() -> str:
    """One tiny hq/lq model per test process, shared by the classifier test files."""
    return tiny_model(f"{tempfile.mkdtemp(prefix='curate-tiny-')}/tiny.bin")
