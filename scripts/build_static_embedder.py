"""Build the static embedder's token table (static_embedder.py) from the packaged all-MiniLM-L6-v2 (no download).

Every vocabulary token is run through the model on its own (``[CLS] token [SEP]``)
and its output vectors mean-pooled, as the sentence-transformers pooling does
for a sentence: one 384-d vector per token (model2vec-style distillation). The
static embedder then averages the vectors of a text's tokens. Written to
``~/.cache/curate/static-minilm.npy`` unless ``--out`` is given.

    python scripts/build_static_embedder.py [--out PATH] [--threads 2]
"""

from __future__ import annotations

import argparse

import numpy as np
from static_embedder import default_static_path


def build(threads: int, batch: int = 512) -> np.ndarray:
    import torch
    from transformers import AutoModel

    from curate.icp.embed import default_model_path

    torch.set_num_threads(threads)
    model = AutoModel.from_pretrained(str(default_model_path()), local_files_only=True).eval()
    config = model.config
    cls, sep = 101, 102  # [CLS] and [SEP] of the BERT uncased vocabulary MiniLM uses
    out = np.zeros((config.vocab_size, config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, config.vocab_size, batch):
            ids = torch.arange(start, min(start + batch, config.vocab_size))
            inputs = torch.stack([torch.full_like(ids, cls), ids, torch.full_like(ids, sep)], dim=1)
            hidden = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
            out[start:start + len(ids)] = hidden.mean(dim=1).numpy()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(default_static_path()))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    table = build(args.threads)
    from pathlib import Path

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.save(args.out, table)
    print(f"wrote {args.out}: {table.shape[0]} tokens x {table.shape[1]}")


if __name__ == "__main__":
    main()
