"""A static embedder distilled from all-MiniLM-L6-v2 (model2vec-style), for the comparison in eval_static_heads.py.

Not one of curate's embedders: heads on it kept less than 95% of the MiniLM
heads' left-out ROC AUC on the hate checks (docs/classifiers.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from curate.icp.embed import CHARS_PER_TOKEN_CAP, EmbedderError, _blank, _finish, _valid_utf8, default_model_path


def default_static_path() -> Path:
    """Where build_static_embedder.py writes the token table by default."""
    return Path(os.environ.get("CURATE_CACHE", Path.home() / ".cache" / "curate")) / "static-minilm.npy"


class StaticEmbedder:
    """The mean of per-token vectors distilled from all-MiniLM-L6-v2, L2-normalised.

    No transformer at embedding time: the text is cut into MiniLM's WordPiece
    tokens (the packaged tokenizer) and the table rows of its first
    ``max_tokens`` tokens are averaged. The table (one vector per vocabulary
    token, each token run through MiniLM alone) is built from the packaged model
    by build_static_embedder.py. Its vectors live in a space of their own: heads
    must be fitted on them, not on MiniLM's.
    """

    def __init__(self, table: str | None = None, max_tokens: int = 512) -> None:
        path = Path(table) if table else default_static_path()
        if not path.is_file():
            raise EmbedderError(f"static embedder: token table not found: {path}; build it with "
                                "python scripts/build_static_embedder.py")
        from tokenizers import Tokenizer

        self.table = np.load(path, mmap_mode="r")
        self.dim = int(self.table.shape[1])
        self.max_tokens = int(max_tokens)
        self.tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._max_chars = self.max_tokens * CHARS_PER_TOKEN_CAP

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        rows = [i for i, text in enumerate(texts) if not _blank(text)]
        encoded = self.tokenizer.encode_batch([_valid_utf8(texts[i][: self._max_chars]) for i in rows],
                                              add_special_tokens=False)
        for i, encoding in zip(rows, encoded):
            ids = encoding.ids[: self.max_tokens]
            if ids:
                out[i] = np.asarray(self.table[np.asarray(ids)], dtype=np.float32).mean(axis=0)
        return _finish(out)
