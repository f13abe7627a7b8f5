"""Loading fastText models with clear errors, and scoring texts with them.

Texts are prepared as DCLM does before predicting: newlines become spaces
(fastText reads one example per line). Empty, whitespace-only, binary-looking
and non-Latin texts are scored like any other text: fastText returns its
prior for text without known words.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LABEL_PREFIX = "__label__"
# fastText's model files start with this magic number (little-endian int32), then the version.
_MAGIC = (793712314).to_bytes(4, "little")


class ModelFileError(ValueError):
    """A model file is missing or is not a fastText model; the message names the path."""


def load_model(path: str) -> Any:
    """The fastText model at ``path``, loaded once per process (the cache key includes size and mtime)."""
    return _load(os.path.realpath(path), *_stamp(path))


def _stamp(path: str) -> tuple[int, int]:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"model file not found: {path}. Pass the path of a fastText model (.bin or .ftz), "
                             "e.g. one written by `curate train-classifier`.") from None
    if not os.path.isfile(path):
        raise ModelFileError(f"model path is not a file: {path}")
    return info.st_size, info.st_mtime_ns


@lru_cache(maxsize=16)
def _load(path: str, size: int, mtime_ns: int) -> Any:
    import fasttext

    _check(path, size, mtime_ns)
    try:
        return fasttext.load_model(path)
    except Exception as exc:  # fastText raises ValueError with C++ messages for damaged files
        raise ModelFileError(_damaged(path, str(exc))) from None


@lru_cache(maxsize=64)
def _check(path: str, size: int, mtime_ns: int) -> None:
    """Load the model once in a child process first: fastText reads a damaged file's sizes blindly and can
    allocate without bound or crash, which must not take the caller down with it."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head != _MAGIC:
        raise ModelFileError(f"{path} is not a fastText model (wrong file header): pass a .bin or .ftz file "
                             "written by fastText or `curate train-classifier`")
    if "fork" not in multiprocessing.get_all_start_methods():
        return
    child = multiprocessing.get_context("fork").Process(target=_try_load, args=(path, size), daemon=True)
    child.start()
    child.join(_CHECK_SECONDS)
    if child.is_alive():
        child.kill()
        child.join()
        raise ModelFileError(_damaged(path, f"loading took over {_CHECK_SECONDS} s"))
    if child.exitcode != 0:
        raise ModelFileError(_damaged(path, f"exit code {child.exitcode}"))


_CHECK_SECONDS = 600


def _try_load(path: str, size: int) -> None:
    """In a child process: load the model with memory capped near what a sound file of this size needs."""
    import resource

    import fasttext

    page = os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * page
    cap = used + 4 * size + (64 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        fasttext.load_model(path)
    except BaseException:
        os._exit(3)
    os._exit(0)


def _damaged(path: str, why: str) -> str:
    return (f"{path} could not be loaded as a fastText model ({why}); the file is damaged or truncated: "
            "train or copy it again")


def model_labels(model: Any) -> list[str]:
    """The model's labels without the ``__label__`` prefix."""
    return [label.removeprefix(LABEL_PREFIX) for label in model.labels]


def prepare(texts: Sequence[str | None]) -> list[str]:
    """Texts as fastText expects them: one line each (``\n`` to a space, as in DCLM), None as empty.

    fastText reads ``\n`` as the end of an example and every other ASCII
    whitespace as a word boundary, so only ``\n`` needs replacing.
    """
    return [text.replace("\n", " ") if text else "" for text in texts]


def predict_scores(model: Any, texts: Sequence[str | None]) -> np.ndarray:
    """Probability of every label (columns in ``model.labels`` order) for each text, float32 (n, labels).

    fastText adds 1e-5 to every probability; values are clipped to [0, 1].
    """
    labels = model.labels
    n = len(texts)
    out = np.zeros((n, len(labels)), dtype=np.float32)
    if not n:
        return out
    index = {label: j for j, label in enumerate(labels)}
    if len(labels) == 2:  # the common case: the best label and its probability; the other has the rest
        predicted, probabilities = model.predict(prepare(texts), k=1)
        best = np.fromiter((index[p[0]] for p in predicted), dtype=np.int64, count=n)
        probs = np.asarray(probabilities, dtype=np.float32).reshape(n)
        rows = np.arange(n)
        out[rows, best] = probs
        out[rows, 1 - best] = 1.0 - probs
        return np.clip(out, 0.0, 1.0, out=out)
    predicted, probabilities = model.predict(prepare(texts), k=-1)
    for i, (names, probs) in enumerate(zip(predicted, probabilities)):
        for name, p in zip(names, probs):
            out[i, index[name]] = p
    return np.clip(out, 0.0, 1.0, out=out)


def predict_unique(model: Any, texts: pa.Array) -> np.ndarray:
    """:func:`predict_scores` for an Arrow string array, predicting each distinct prepared text once.

    Preparing (``\n`` to a space) and finding the distinct texts run in Arrow;
    fastText's prediction is a pure function of the text, so repeated texts
    (boilerplate sentences, blank lines) are scored once and the rows copied.
    """
    lines = pc.replace_substring(texts.fill_null(""), "\n", " ")
    encoded = pc.dictionary_encode(lines)
    unique = predict_scores(model, encoded.dictionary.to_pylist())
    return unique[np.asarray(encoded.indices, dtype=np.int64)]
