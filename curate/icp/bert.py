"""A BERT sentence encoder in plain torch, for mean-pooled BERT folders such as all-MiniLM-L6-v2.

sentence-transformers computes the same vectors (it stays the tests'
reference), but importing it pulls in transformers and scikit-learn: about 5 s
of CPU per process on a laptop core, paid by every embedding actor, which on a
small run costs as much as embedding a few hundred documents. This module
needs only torch, ``tokenizers`` and ``safetensors``, and reads the folder's
``config.json``, ``tokenizer.json``, ``model.safetensors`` and pooling config.

:func:`supports` says whether a folder is one this encoder computes exactly: a
``BertModel`` with absolute positions and GELU, mean pooling (CLS, max or
weighted pooling go to sentence-transformers), optionally followed by
sentence-transformers' ``Normalize`` module.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _modules(folder: Path) -> list[str]:
    path = folder / "modules.json"
    return [m.get("type", "") for m in _read_json(path)] if path.exists() else []


def supports(folder: str | Path) -> bool:
    """Whether ``folder`` is a mean-pooled BERT that :class:`BertEncoder` computes as sentence-transformers does."""
    folder = Path(folder)
    needed = ("config.json", "tokenizer.json", "model.safetensors")
    if not all((folder / name).is_file() for name in needed):
        return False
    try:
        config = _read_json(folder / "config.json")
        modules = _modules(folder)
        pooling = folder / "1_Pooling" / "config.json"
        pool = _read_json(pooling) if pooling.exists() else {"pooling_mode_mean_tokens": True}
    except (OSError, ValueError):
        return False
    known = {"sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
             "sentence_transformers.models.Normalize"}
    modes = [k for k, v in pool.items() if k.startswith("pooling_mode") and v]
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and all(m in known for m in modules) and modes == ["pooling_mode_mean_tokens"])


class BertEncoder:
    """Mean-pooled BERT sentence vectors (L2-normalised when the folder ends with ``Normalize``)."""

    def __init__(self, folder: str | Path, max_tokens: int, device: str = "cpu") -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = _read_json(folder / "config.json")
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.positions = int(config["max_position_embeddings"])
        self.normalize = "sentence_transformers.models.Normalize" in _modules(folder)
        self.max_tokens = min(int(max_tokens), self.positions)
        self.device = torch.device(device)
        weights = load_file(str(folder / "model.safetensors"), device=str(self.device))
        self.w = {k.removeprefix("bert."): v.float() for k, v in weights.items()}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_tokens)
        self.pad_id = int(config.get("pad_token_id", 0))

    @property
    def dim(self) -> int:
        return self.hidden

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Vectors of ``texts`` (float32). Texts are tokenized once and batched by token count, so a batch
        pads few positions (sentence-transformers batches by character count, which pads a fifth of the
        positions of a mixed corpus at 128 tokens); padding does not change a text's vector."""
        import torch

        encoded = self.tokenizer.encode_batch([text.strip() for text in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i].ids))
        out = np.empty((len(texts), self.hidden), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start:start + batch_size]
                out[rows] = self._batch([encoded[i] for i in rows]).float().cpu().numpy()
        return out

    def _batch(self, encoded: list[Any]) -> Any:
        import torch
        import torch.nn.functional as F

        length = max(len(e.ids) for e in encoded)

        def padded(values: list[list[int]], fill: int) -> Any:
            return torch.tensor([v + [fill] * (length - len(v)) for v in values], device=self.device)

        ids = padded([e.ids for e in encoded], self.pad_id)
        mask = padded([e.attention_mask for e in encoded], 0)
        types = padded([e.type_ids for e in encoded], 0)
        w = self.w
        positions = torch.arange(ids.shape[1], device=self.device)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = F.layer_norm(x, (self.hidden,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        bias = torch.zeros(mask.shape, dtype=x.dtype, device=self.device).masked_fill(mask == 0, -math.inf)
        bias = bias[:, None, None, :]
        for i in range(self.layers):
            x = self._layer(x, bias, f"encoder.layer.{i}.")
        weights = mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1) if self.normalize else pooled

    def _layer(self, x: Any, bias: Any, at: str) -> Any:
        import torch.nn.functional as F

        w = self.w
        batch, length, _ = x.shape
        head_dim = self.hidden // self.heads

        def heads(name: str) -> Any:
            y = F.linear(x, w[f"{at}attention.self.{name}.weight"], w[f"{at}attention.self.{name}.bias"])
            return y.view(batch, length, self.heads, head_dim).transpose(1, 2)

        context = F.scaled_dot_product_attention(heads("query"), heads("key"), heads("value"), attn_mask=bias)
        context = context.transpose(1, 2).reshape(batch, length, self.hidden)
        attended = F.linear(context, w[f"{at}attention.output.dense.weight"], w[f"{at}attention.output.dense.bias"])
        x = F.layer_norm(attended + x, (self.hidden,), w[f"{at}attention.output.LayerNorm.weight"],
                         w[f"{at}attention.output.LayerNorm.bias"], self.eps)
        inner = F.gelu(F.linear(x, w[f"{at}intermediate.dense.weight"], w[f"{at}intermediate.dense.bias"]))
        out = F.linear(inner, w[f"{at}output.dense.weight"], w[f"{at}output.dense.bias"])
        return F.layer_norm(out + x, (self.hidden,), w[f"{at}output.LayerNorm.weight"],
                            w[f"{at}output.LayerNorm.bias"], self.eps)
