"""Default models shipped in the package, trained by ``make models`` (scripts/train_default_models.py).

See docs/classifiers.md for their training data, validation numbers and limits.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).resolve().parent


def shipped(name: str) -> str:
    """Path of a shipped model file, e.g. ``shipped("quality.ftz")``."""
    return str(FOLDER / name)
