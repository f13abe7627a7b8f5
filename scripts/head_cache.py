"""A disk cache of document embeddings, keyed by the text, so that reruns of the head training embed nothing twice.

Vectors are those the ``embed`` stage writes: all-MiniLM-L6-v2, first 128
tokens, L2-normalised, float32 (computed in float32; a rerun with the cache
embeds nothing and so refits the shipped heads byte for byte, while a run from
an empty cache may differ in the last bits of some vectors). Each call that embeds
new texts adds one shard file, named by its content; every shard is read at start.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

MAX_TOKENS = 128


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    def __init__(self, folder: Path, threads: int = 2) -> None:
        self.folder = folder
        self.threads = threads
        self._embedder = None
        self._vectors: dict[str, np.ndarray] = {}
        for shard in sorted(folder.glob("shard-*.npz")):
            with np.load(shard) as data:
                self._vectors.update(zip(map(str, data["keys"]), data["vectors"]))

    @property
    def embedder(self):
        if self._embedder is None:
            from curate.icp.embed import MiniLMEmbedder

            self._embedder = MiniLMEmbedder(max_tokens=MAX_TOKENS, threads=self.threads, precision="float32")
        return self._embedder

    @property
    def name(self) -> str:
        from curate.icp.embed import DEFAULT_MODEL

        return DEFAULT_MODEL

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text, from the cache or embedded now (new ones in first-seen order, then stored)."""
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            by_key = dict(zip(keys, texts))
            new = self.embedder.embed([by_key[k] for k in missing])
            self.folder.mkdir(parents=True, exist_ok=True)
            name = hashlib.sha1("".join(missing).encode()).hexdigest()[:16]  # by content: parallel runs never clash
            shard = self.folder / f"shard-{name}.npz"
            np.savez(shard, keys=np.array(missing), vectors=new)
            self._vectors.update(zip(missing, new))
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._vectors[k] for k in keys])
