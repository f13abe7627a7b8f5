"""Cut the document path into training contexts of at most ``context_tokens``.

Documents stay whole and in path order: a document that does not fit in what
is left of the current context starts the next one, and one longer than a
whole context gets a context of its own (the trainer truncates or splits it;
dropping it here would lose a document, splitting it would break the "every
document once" contract of the order). Counts should include whatever the
trainer adds per document (an EOS token, say).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit


@njit(cache=True)
def _pack(tokens, budget):
    n = tokens.size
    context = np.empty(n, np.int64)
    position = np.empty(n, np.int64)
    cid = -1
    used = 0
    pos = 0
    for i in range(n):
        t = tokens[i]
        if cid < 0 or (pos > 0 and used + t > budget):
            cid += 1
            used = 0
            pos = 0
        context[i] = cid
        position[i] = pos
        used += t
        pos += 1
    return context, position


def pack_contexts(path_tokens: np.ndarray, context_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Context of every document, given token counts in *path order*
    (``tokens[path]``). Returns ``(context_id, position)``, int64 arrays in path
    order: context ids count up from 0 and ``position`` is the document's index
    inside its context."""
    if context_tokens < 1:
        raise ValueError("context_tokens must be at least 1")
    tokens = np.ascontiguousarray(path_tokens, dtype=np.int64)
    if tokens.ndim != 1:
        raise ValueError("path_tokens must be 1-D")
    if tokens.size and tokens.min() < 0:
        raise ValueError("token counts must be non-negative")
    return _pack(tokens, int(context_tokens))


def estimate_tokens(texts: pa.Array | pa.ChunkedArray | Sequence[str], chars_per_token: float = 4.0) -> np.ndarray:
    """A fast token count: ``ceil(characters / chars_per_token)``, at least 1
    (about 4 characters per token for English BPE vocabularies). For packing a
    length estimate is enough; a real tokenizer would cost more than the rest of
    the ordering together. Returns int64."""
    if isinstance(texts, pa.ChunkedArray | pa.Array):
        chars = pc.utf8_length(texts).fill_null(0).to_numpy(zero_copy_only=False)
    else:
        chars = np.fromiter((len(t) if t is not None else 0 for t in texts), dtype=np.int64, count=len(texts))
    est = np.ceil(chars.astype(np.float64) / chars_per_token).astype(np.int64)
    return np.maximum(est, 1)
