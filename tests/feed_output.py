"""A small, synthetic run output folder (shards, dropped table, manifest) for loader, pack and report tests.

Built directly with pyarrow and the typed manifest, as ``curate run`` lays it out, so the tests need no Ray.
"""

from __future__ import annotations

import os
import random

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curate.manifest import Documents, Manifest, Output, Shard, StageRecord, write_manifest

WORDS = ("data curation pretraining corpus token model context shard parquet arrow filter dedup rewrite "
         "order language quality score document window attention sequence bucket domain").split()
SOURCES = ("news", "web", "code")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def build_output(folder: str, documents: int = 240, shards: int = 3, row_group_rows: int = 7, seed: int = 0,
                 contexts: bool = True) -> dict:
    """Write the folder; returns ``{"ids": [...], "texts": {...}, "contexts": {context_id: [ids]}}``."""
    rng = random.Random(seed)
    rows = []
    context, position = 0, 0
    for index in range(documents):
        if position and rng.random() < 0.3:
            context, position = context + 1, 0
        source = SOURCES[index % 3]
        meta = {"url": f"https://www.{source}.example.org/{index}"} if source == "web" else {"label": source}
        text = _text(rng, rng.randint(3, 160))
        rows.append({"id": f"doc-{index:04d}", "text": text, "source": source, "meta": orjson.dumps(meta).decode(),
                     "quality_score": round(rng.random(), 4), "char_count": len(text),
                     "language": "en" if index % 5 else "de",
                     "rewrite_status": "edited" if index % 40 == 1 else "unselected",
                     "original_text": ("Menu | Home | Login\n" + text) if index % 40 == 1 else None,
                     "context_id": context, "position": position})
        position += 1
    if not contexts:
        for row in rows:
            del row["context_id"], row["position"]
    table = pa.Table.from_pylist(rows)
    os.makedirs(folder, exist_ok=True)
    cuts = [0]
    for k in range(1, shards):  # shards end where a context ends, as the writer does
        cut = k * documents // shards
        while contexts and cut < documents and rows[cut]["position"] != 0:
            cut += 1
        cuts.append(cut)
    cuts.append(documents)
    shard_records = []
    for number, (start, stop) in enumerate(zip(cuts, cuts[1:])):
        path = os.path.join(folder, f"part-{number:05d}.parquet")
        pq.write_table(table.slice(start, stop - start), path, row_group_size=row_group_rows)
        shard_records.append(Shard(path=os.path.basename(path), rows=stop - start, bytes=os.path.getsize(path)))

    dropped_rows = [{"id": f"dup-{i}", "stage": "exact_dedup", "reason": "exact_duplicate", "detail": None,
                     "duplicate_of": rows[i % 4]["id"], "text": rows[i % 4]["text"], "source": rows[i % 4]["source"],
                     "meta": None} for i in range(9)]
    dropped_rows += [{"id": f"short-{i}", "stage": "length_filter", "reason": "too_few_words", "detail": "2 words",
                      "duplicate_of": None, "text": "too short", "source": "web", "meta": None} for i in range(5)]
    os.makedirs(os.path.join(folder, "_dropped"), exist_ok=True)
    dropped_path = os.path.join(folder, "_dropped", "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist(dropped_rows), dropped_path)

    total_in = documents + len(dropped_rows)
    stages = [
        StageRecord(index=0, name="read", kind="read", documents_in=total_in, documents_out=total_in),
        StageRecord(index=1, name="length_filter", kind="map", documents_in=total_in, documents_out=total_in - 5,
                    dropped={"too_few_words": 5}),
        StageRecord(index=2, name="exact_dedup", kind="global", documents_in=total_in - 5, documents_out=documents,
                    dropped={"exact_duplicate": 9}, stats={"duplicate_clusters": 4, "duplicates": 9}),
        StageRecord(index=3, name="rewrite", kind="map", documents_in=documents, documents_out=documents,
                    stats={"rewritten": 6, "status": {"edited": 6}}),
        StageRecord(index=4, name="icp_reorder", kind="order", documents_in=documents, documents_out=documents,
                    stats={"adjacent_similarity": 0.56, "random_similarity": 0.09, "ceiling_similarity": 0.63,
                           "contexts": context + 1}),
    ]
    manifest = Manifest(
        created="2026-01-01T00:00:00Z", config={"stages": []}, config_hash="feedtest", stages=stages,
        documents=Documents(input=total_in, output=documents, dropped=len(dropped_rows),
                            dropped_by_stage={"01-length_filter": 5, "02-exact_dedup": 9},
                            dropped_by_reason={"exact_duplicate": 9, "too_few_words": 5}),
        output=Output(shards=shard_records,
                      dropped=[Shard(path="_dropped/part-00000.parquet", rows=len(dropped_rows),
                                     bytes=os.path.getsize(dropped_path))],
                      group_column="context_id" if contexts else None),
        wall_seconds=1.0,
    )
    write_manifest(folder, manifest)
    groups: dict[int, list[str]] = {}
    for row in rows:
        groups.setdefault(row.get("context_id", 0), []).append(row["id"])
    return {"ids": [r["id"] for r in rows], "texts": {r["id"]: r["text"] for r in rows}, "contexts": groups,
            "rows": rows}


def train_tokenizer(folder: str) -> str:
    """A tiny byte-level BPE tokenizer (``tokenizer.json``) trained on the fixture's words, in well under a second."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator([" ".join(WORDS)] * 20, trainer)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "tokenizer.json")
    tokenizer.save(path)
    return path
