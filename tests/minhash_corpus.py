"""Synthetic documents for the MinHash tests (letters only: digits are normalised away)."""

from __future__ import annotations

import numpy as np


def random_docs(n: int, words: int, seed: int = 0, vocab_size: int = 5000) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = ["".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(vocab_size)]
    return [" ".join(rng.choice(vocab, words)) for _ in range(n)]


def edit(text: str, count: int, seed: int) -> str:
    """Change ``count`` distinct words (each change removes up to n shingles)."""
    rng = np.random.default_rng(seed)
    words = text.split(" ")
    for i in rng.choice(len(words), count, replace=False):
        words[i] = "qq" + words[i]
    return " ".join(words)
