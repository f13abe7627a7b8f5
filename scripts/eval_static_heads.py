"""Do heads on the ``static`` embedder (token vectors distilled from MiniLM) keep the MiniLM heads' quality?

Runs the same leave-one-source-out (quality) and leave-one-dataset-out (hate)
checks as scripts/train_heads.py with static vectors in place of MiniLM's, and
compares every left-out ROC AUC with the shipped heads' metrics files. Writes
nothing into curate/models; the comparison goes to out/heads/static_heads.json.

    python scripts/build_static_embedder.py --out out/heads/static-minilm.npy
    python scripts/eval_static_heads.py
"""

from __future__ import annotations

import json
from pathlib import Path

from head_hate import hate
from head_quality import quality
from static_embedder import StaticEmbedder

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out" / "heads"


class StaticVectors:
    """The embedding-cache interface (``embed``, ``name``) over the static embedder: it needs no cache."""

    name = "static-minilm"

    def __init__(self, table: Path) -> None:
        self.embedder = StaticEmbedder(table=str(table), max_tokens=128)

    def embed(self, texts: list[str]):
        return self.embedder.embed(texts)


def _pairs(minilm: dict, static: dict) -> dict:
    """Left-out ROC AUC of both heads and the static head's share of the MiniLM head's AUC."""
    out = {}
    for name, row in minilm.items():
        a, b = row["minilm"], static[name]["minilm"]
        out[name] = {"minilm": a, "static": b, "share": round(b / a, 4)}
    return out


def main() -> None:
    vectors = StaticVectors(OUT / "static-minilm.npy")
    models = REPO / "curate" / "models"
    _, q = quality(vectors, 0)
    q_ref = json.loads((models / "quality_minilm.metrics.json").read_text())
    _, _, h = hate(vectors, 0)
    h_ref = json.loads((models / "hate_minilm.metrics.json").read_text())
    quality_rows = {n: {"minilm": v["roc_auc"]["minilm_head"]["document"]} for n, v in q_ref["leave_one_source_out"].items()}
    quality_static = {n: {"minilm": v["roc_auc"]["minilm_head"]["document"]} for n, v in q["leave_one_source_out"].items()}
    hate_rows = {n: {"minilm": v["roc_auc"]["minilm_head"]} for n, v in h_ref["leave_one_dataset_out"].items()}
    hate_static = {n: {"minilm": v["roc_auc"]["minilm_head"]} for n, v in h["leave_one_dataset_out"].items()}
    report = {"quality_documents_leave_one_source_out": _pairs(quality_rows, quality_static),
              "hate_leave_one_dataset_out": _pairs(hate_rows, hate_static),
              "quality_sms_vs_long_form": {n: q["sms_vs_long_form"][n]["roc_auc"]["minilm_head"]
                                           for n in ("moby_dick_chapters", "brown_corpus", "udhr_en")},
              "hate_clean_flagged_at_its_cut": {s: v["minilm_head"]
                                                for s, v in h["clean_held_out_flagged_at_default_cut"].items()}}
    shares = [v["share"] for part in ("quality_documents_leave_one_source_out", "hate_leave_one_dataset_out")
              for v in report[part].values()]
    report["worst_share"] = min(shares)
    report["keeps_95_percent"] = min(shares) >= 0.95
    (OUT / "static_heads.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
