"""Compile curate's numba kernels into numba's on-disk cache, once per install.

The MinHash signer, the verification Jaccard and the in-context-pretraining
graph, walk and packing are numba functions cached next to their sources. The
first process that calls them compiles them (about 10 s on a laptop core), and
every process after it loads the machine code from the cache. ``make install``
runs this module so that a user's first ``curate run`` does not pay the
compilation: it runs those code paths on a few tiny documents, with the same
argument types as a real run.

    python -m curate.warm
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa


def _minhash(texts: pa.Array) -> None:
    from curate.stage import ORDER
    from curate.stages.minhash_dedup import MinHashDedup, _check_pairs, _featurize

    for scheme in ("fast", "datasketch"):
        stage = MinHashDedup(scheme=scheme)
        table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts,
                          ORDER: pa.array(np.arange(len(texts), dtype=np.int64))})
        bands, rows = stage.band_shape()
        signer = stage.signer()
        for chunk in (table, table.cast(table.schema.set(1, pa.field("text", pa.large_string())))):
            _featurize(chunk, signer, bands, rows, "smallest_id", None, True)
        pairs = pa.table({"lo": [0], "hi": [1], "_text_lo": texts[:1], "_text_hi": texts[1:2]})
        for exact in (True, False):
            _check_pairs(pairs, signer, 0.8, exact)


def _icp(n: int = 64) -> None:
    from curate.stages.icp_reorder import IcpReorderParams, order_documents

    vectors = np.random.default_rng(0).standard_normal((n, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    orders = np.arange(n, dtype=np.int64)
    tokens = np.full(n, 100, dtype=np.int64)
    order_documents(vectors, orders, [str(i) for i in range(n)], tokens,
                    IcpReorderParams(embedding_column="embedding", k=4, context_tokens=400))


def main() -> None:
    start = time.perf_counter()
    words = "the quick brown fox jumps over the lazy dog while a cat watches from the warm window sill".split()
    texts = pa.array([" ".join(words[i:] + words[:i]) for i in range(4)])
    _minhash(texts)
    _icp()
    print(f"curate: numba kernels compiled and cached ({time.perf_counter() - start:.1f}s)")


if __name__ == "__main__":
    main()
