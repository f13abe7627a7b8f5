"""``curate pack OUT``: a run's documents as packed token sequences, ready for a training job.

Documents are read in output order (so in-context-pretraining contexts stay in
``context_id`` order and together), tokenised, each followed by the
end-of-document token, and either

* concatenated into rows of exactly ``seq_len`` tokens (``OUT/_packed/part-*.parquet``);
  in-context-pretraining output is aligned to its contexts by default (a new row
  at every context, ``seq_len`` = the ``icp_reorder`` context length, a
  ``context_id`` column) and meant for plain causal attention over the row, other
  rows for per-document attention (``attention`` in ``_pack.json``); or
* with ``buckets``, split dataset-decomposition style into pieces whose lengths
  are powers of two, one piece a row, a folder per length
  (``OUT/_packed/len-00256/`` ... ``len-<seq_len>/``); tails shorter than
  ``min_bucket`` are concatenated into ``min_bucket`` rows.

With ``metadata`` set, a seeded random ``metadata_share`` of the documents (whole
contexts together; ``curate.feed.cooldown``) get a metadata prefix (MeCo); the
rest, the cool-down, are plain. Rows and shards never mix the two (``metadata``
column, ``part-meta-*`` and ``part-cool-*`` shards, the ``metadata`` flag of every
shard and the split in ``_pack.json``).
"""

from __future__ import annotations

import os
import random
import shutil
import time
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.feed.contexts import DEFAULT_SEQ_LEN, GROUP, Attention, attention_for, context_tokens
from curate.feed.cooldown import BALANCE_MAX, RULES, balanced_cooldown, hashed_cooldown, share_key, unit_characters
from curate.feed.metadata import prefixes
from curate.feed.packing import Packer, Row, decompose, is_power_of_two
from curate.feed.shards import PACK_MANIFEST, ShardWriter, document_shards
from curate.feed.tokenizer import Tokenizer, load_tokenizer
from curate.manifest import MANIFEST, Manifest, read_manifest

PACKED = "_packed"  # inside OUT, beside _dropped: readers of OUT/*.parquet and pyarrow.dataset(OUT) skip it


class PackConfig(BaseModel):
    """How to pack (``curate pack`` options, or the ``pack:`` key of a pipeline)."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: str = Field("default", description="'default' (the default LM's), a tokenizer.json, a local Hugging "
                                                  "Face tokenizer folder or a .gguf file.")
    eos_token: str | None = Field(None, description="Token after each document (default: <|endoftext|> or the "
                                                    "tokenizer's end-of-sequence token).")
    seq_len: int | None = Field(None, ge=8, description="Tokens per packed row (the largest bucket with buckets); "
                                                        "default: the icp_reorder context length for rows aligned "
                                                        "to contexts, else 2048.")
    output: str | None = Field(None, description="Folder for the packed shards (default: OUT/_packed).")
    metadata: str | None = Field(None, description="Metadata to prepend (MeCo): 'domain', 'source', or an output "
                                                   "column or meta key. Off when unset.")
    metadata_template: str | None = Field(None, description="Prefix text with {value} (default: 'URL: {value}' for "
                                                            "a URL's domain, '<field>: {value}' otherwise, then a "
                                                            "blank line).")
    metadata_share: float = Field(0.9, ge=0.0, le=1.0, description="Share of the documents (whole contexts "
                                                                    "together) that gets the prefix, drawn at "
                                                                    "random with seed; the rest is the cool-down.")
    seed: int = Field(0, description="Seed of the cool-down draw and of dataset decomposition's piece lengths.")
    buckets: bool = Field(False, description="Dataset decomposition: power-of-two length buckets, one document "
                                             "piece a row.")
    min_bucket: int = Field(256, ge=1, description="Smallest bucket (a power of two).")
    overflow: Literal["random", "largest"] = Field(
        "random", description="buckets: how a document longer than seq_len is cut: 'random' piece lengths with "
                              "odds seq_len/length (dataset decomposition), or whole seq_len pieces.")
    align_contexts: bool | None = Field(None, description="Start a new row at every new context_id (pads the row "
                                                          "before); default: on for in-context-pretraining output "
                                                          "without buckets.")
    rows_per_shard: int = Field(8192, ge=1)
    row_group_rows: int = Field(256, ge=1)
    batch_documents: int = Field(512, ge=1, description="Documents tokenised per batch.")

    def packed_folder(self, output: str) -> str:
        """Where the packed shards of the run output ``output`` go."""
        return self.output or os.path.join(output, PACKED)

    @property
    def length(self) -> int:
        """Tokens per row (the largest bucket), once resolved."""
        return self.seq_len or DEFAULT_SEQ_LEN

    @model_validator(mode="after")
    def _check(self) -> PackConfig:
        if self.buckets and self.seq_len is None:
            self.seq_len = DEFAULT_SEQ_LEN
        if self.buckets and not (is_power_of_two(self.seq_len) and is_power_of_two(self.min_bucket)):
            raise ValueError(f"with buckets, seq_len ({self.seq_len}) and min_bucket ({self.min_bucket}) must be "
                             "powers of two, e.g. seq_len 2048 and min_bucket 256")
        if self.buckets and self.min_bucket > self.seq_len:
            raise ValueError(f"min_bucket ({self.min_bucket}) is larger than seq_len ({self.seq_len})")
        if self.metadata_template is not None and "{value}" not in self.metadata_template:
            raise ValueError("metadata_template must contain {value}")
        return self


class PackedShard(BaseModel):
    path: str
    rows: int
    bytes: int
    length: int = Field(description="Tokens per row in this shard.")
    metadata: bool = Field(description="Rows of the metadata-conditioned share (MeCo); false: plain text.")


class PackManifest(BaseModel):
    """``OUT/_packed/_pack.json``: what was packed, with which tokenizer, and the token accounting."""

    created: str = ""
    source: str = Field("", description="The run output folder that was packed.")
    run_created: str = Field("", description="When that run wrote its manifest (to tell a stale pack).")
    config: PackConfig = Field(default_factory=PackConfig, description="The options, defaults resolved.")
    attention: Attention = Field("document", description="causal: plain causal attention over each row (rows "
                                                         "hold one in-context-pretraining context); document: "
                                                         "per-document attention (block-diagonal, doc_starts).")
    tokenizer: dict[str, Any] = Field(default_factory=dict)
    documents: int = 0
    document_tokens: int = Field(0, description="Tokens of the documents, end-of-document tokens included.")
    metadata_documents: int = 0
    metadata_tokens: int = Field(0, description="Prefix tokens added (loss_mask 0).")
    metadata_split: dict[str, Any] = Field(default_factory=dict, description="How the cool-down was drawn and "
                                                                             "what each share holds, by source.")
    padding_tokens: int = 0
    sequences: int = 0
    sequences_by_length: dict[int, int] = Field(default_factory=dict)
    shards: list[PackedShard] = Field(default_factory=list)
    seconds: float = 0.0

    def files(self, folder: str, metadata: bool | None = None, length: int | None = None) -> list[str]:
        """Shard paths in order; ``metadata`` True/False selects the conditioned share or the cool-down,
        ``length`` one bucket."""
        return [os.path.join(folder, s.path) for s in self.shards
                if (metadata is None or s.metadata == metadata) and (length is None or s.length == length)]


def read_pack_manifest(folder: str) -> PackManifest:
    with open(os.path.join(folder, PACK_MANIFEST), encoding="utf-8") as handle:
        return PackManifest.model_validate_json(handle.read())


class _Sink:
    """Where packed rows go: one shard writer per row length and share, and the counts."""

    def __init__(self, folder: str, config: PackConfig, contexts: bool) -> None:
        self.folder, self.config, self.contexts = folder, config, contexts
        self.writers: dict[tuple[int, bool], ShardWriter] = {}

    def __call__(self, row: Row) -> None:
        key = (len(row["input_ids"]), bool(row["metadata"]))
        if key not in self.writers:
            length, share = key
            where = os.path.join(self.folder, f"len-{length:05d}") if self.config.buckets else self.folder
            prefix = ("part-meta" if share else "part-cool") if self.config.metadata else "part"
            self.writers[key] = ShardWriter(where, self.folder, self.config.rows_per_shard,
                                            self.config.row_group_rows, prefix, self.contexts)
        self.writers[key].add(row)

    def close(self) -> list[PackedShard]:
        shards = []
        for length, share in sorted(self.writers, key=lambda key: (key[0], not key[1])):
            shards += [PackedShard(length=length, **s) for s in self.writers[(length, share)].close()]
        return shards


def _columns(path: str, config: PackConfig) -> list[str]:
    present = set(pq.read_schema(path).names)
    wanted = ["id", "text", GROUP]
    if config.metadata:
        wanted += ["source", "meta", "url", config.metadata]
    return [name for name in dict.fromkeys(wanted) if name in present]


def _run_manifest(output: str) -> Manifest | None:
    return read_manifest(output) if os.path.isfile(os.path.join(output, MANIFEST)) else None


def resolve(config: PackConfig, files: list[str], run: Manifest | None) -> PackConfig:
    """The options with their defaults decided by the output: in-context-pretraining rows follow contexts."""
    has_contexts = bool(files) and GROUP in pq.read_schema(files[0]).names
    align = config.align_contexts
    if align is None:
        align = has_contexts and not config.buckets
    seq_len = config.seq_len
    if seq_len is None:
        tokens = context_tokens(run) if align else None
        if align and tokens is None:
            from curate.stages.icp_reorder import IcpReorderParams

            tokens = IcpReorderParams.model_fields["context_tokens"].default
        seq_len = max(tokens or DEFAULT_SEQ_LEN, 8)
    return config.model_copy(update={"align_contexts": bool(align and has_contexts), "seq_len": seq_len})


def pack_output(output: str, config: PackConfig | None = None, tokenizer: Tokenizer | None = None) -> PackManifest:
    """Pack the documents of ``output`` (a run's output folder) into token shards; returns the manifest."""
    started = time.time()
    run = _run_manifest(output)
    files = document_shards(output, run)
    config = resolve(config or PackConfig(), files, run)
    tokenizer = tokenizer or load_tokenizer(config.tokenizer, config.eos_token)
    folder = config.packed_folder(output)
    staging = folder.rstrip("/") + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    sink = _Sink(staging, config, contexts=bool(config.align_contexts))
    state = _PackState(config, tokenizer, sink, _Shares(files, config))
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=config.batch_documents,
                                                       columns=_columns(path, config)):
            state.add_batch(batch)
    state.finish()
    manifest = PackManifest(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source=os.path.abspath(output), run_created=run.created if run else "", config=config,
        attention=attention_for(bool(config.align_contexts)),
        tokenizer={"name": tokenizer.name, "source": tokenizer.source, "eos_token": tokenizer.eos_token,
                   "eos_id": tokenizer.eos_id, "vocab_size": tokenizer.backend.get_vocab_size()},
        documents=state.documents, document_tokens=state.document_tokens,
        metadata_documents=state.metadata_documents, metadata_tokens=state.metadata_tokens,
        metadata_split=state.split.summary(config, state.shares.rule) if config.metadata else {},
        padding_tokens=sum(p.padding for p in state.packers.values()),
        sequences=sum(state.sequences.values()), sequences_by_length=dict(sorted(state.sequences.items())),
        shards=sink.close(),
    )
    manifest.seconds = round(time.time() - started, 3)
    with open(os.path.join(staging, PACK_MANIFEST), "w", encoding="utf-8") as handle:
        handle.write(manifest.model_dump_json(indent=2) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    return manifest


class _Shares:
    """Which documents get the metadata prefix: all but a random cool-down (``curate.feed.cooldown``)."""

    def __init__(self, files: list[str], config: PackConfig) -> None:
        self.config = config
        self.rule = "hash"
        self.cooldown: set[str] | None = None
        rows = sum(pq.ParquetFile(path).metadata.num_rows for path in files)
        if config.metadata and 0.0 < config.metadata_share < 1.0 and rows <= BALANCE_MAX:
            self.rule = "balanced"
            self.cooldown = balanced_cooldown(unit_characters(self._rows(files)), config.metadata_share, config.seed)

    @staticmethod
    def _rows(files: list[str]) -> Any:
        for path in files:
            names = pq.read_schema(path).names
            columns = [name for name in ("id", GROUP, "source", "text") if name in names]
            for batch in pq.ParquetFile(path).iter_batches(batch_size=8192, columns=columns):
                table = pa.Table.from_batches([batch])
                none = [None] * table.num_rows
                chars = pa.compute.utf8_length(table["text"]).fill_null(0).to_pylist()
                yield from zip(table["id"].to_pylist(), table[GROUP].to_pylist() if GROUP in columns else none,
                               table["source"].to_pylist() if "source" in columns else none, chars)

    def conditioned(self, doc_id: str, context: Any) -> bool:
        if not self.config.metadata:
            return False
        key = share_key(doc_id, context)
        if self.cooldown is not None:
            return key not in self.cooldown
        return not hashed_cooldown(self.config.seed, self.config.metadata_share, key)


class _Split:
    """Documents, characters and tokens of each share (conditioned, cool-down), in all and by source."""

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, int]] = {}
        self.sources: dict[str, dict[str, dict[str, int]]] = {}

    def add(self, share: bool, source: str | None, characters: int, tokens: int) -> None:
        name = "conditioned" if share else "cooldown"
        for counts, values in ((self.totals.setdefault(name, {}), (characters, tokens)),
                               (self.sources.setdefault(source or "", {}).setdefault(name, {}), (characters,))):
            counts["documents"] = counts.get("documents", 0) + 1
            for key, value in zip(("characters", "tokens"), values):
                counts[key] = counts.get(key, 0) + value

    def summary(self, config: PackConfig, rule: str) -> dict[str, Any]:
        return {"rule": rule, "how": RULES[rule], "seed": config.seed, "share": config.metadata_share,
                "key": "context_id (whole contexts), else id", **self.totals,
                "by_source": dict(sorted(self.sources.items()))}


class _PackState:
    """Documents in, packed rows out: prefixes, tokenisation, and a packer per row length and share."""

    def __init__(self, config: PackConfig, tokenizer: Tokenizer, sink: _Sink, shares: _Shares) -> None:
        self.config, self.tokenizer, self.sink, self.shares = config, tokenizer, sink, shares
        self.prefix_ids: dict[str, np.ndarray] = {}
        self.packers: dict[tuple[int, bool], Packer] = {}
        self.sequences: dict[int, int] = {}
        self.documents = self.document_tokens = self.metadata_documents = self.metadata_tokens = 0
        self.context: dict[bool, Any] = {}  # per share: the context its packer is filling
        self.split = _Split()
        self.eos = np.asarray([tokenizer.eos_id], dtype=np.int32)

    def _emit(self, row: Row) -> None:
        length = len(row["input_ids"])
        self.sequences[length] = self.sequences.get(length, 0) + 1
        self.sink(row)

    def _packer(self, length: int, metadata: bool) -> Packer:
        key = (length, metadata)
        if key not in self.packers:
            self.packers[key] = Packer(length, self.tokenizer.eos_id, self._emit, metadata=metadata)
        return self.packers[key]

    def add_batch(self, batch: Any) -> None:
        texts = [text or "" for text in batch.column("text").to_pylist()]
        ids = batch.column("id").to_pylist()
        contexts = batch.column(GROUP).to_pylist() if GROUP in batch.schema.names else [None] * len(ids)
        heads = self._prefixes(batch, len(texts))
        sources = batch.column("source").to_pylist() if "source" in batch.schema.names else [None] * len(ids)
        for row, tokens in enumerate(self.tokenizer.encode(texts)):
            metadata = self.shares.conditioned(ids[row], contexts[row])
            if self.config.align_contexts and contexts[row] != self.context.get(metadata, object()):
                packer = self._packer(self.config.length, metadata)
                packer.flush()  # a new context starts a new row
                packer.context = contexts[row]
                self.context[metadata] = contexts[row]
            prefix = self._prefix_tokens(heads[row] if metadata else None)
            self.documents += 1
            self.document_tokens += len(tokens) + 1
            if self.config.metadata:
                self.split.add(metadata, sources[row], len(texts[row]), len(tokens) + 1)
            if len(prefix):
                self.metadata_documents += 1
                self.metadata_tokens += len(prefix)
            self._place(ids[row], np.concatenate([prefix, tokens, self.eos]), len(prefix), metadata)

    def _prefixes(self, batch: Any, rows: int) -> list[str | None]:
        """Per document its prefix text (None: none)."""
        if not self.config.metadata:
            return [None] * rows
        return prefixes(pa.Table.from_batches([batch]), self.config.metadata, self.config.metadata_template)

    def _prefix_tokens(self, prefix: str | None) -> np.ndarray:
        if prefix is None:
            return self.eos[:0]
        if prefix not in self.prefix_ids:
            self.prefix_ids[prefix] = self.tokenizer.encode([prefix])[0]
        return self.prefix_ids[prefix]

    def _place(self, doc_id: str, document: np.ndarray, prefix: int, metadata: bool) -> None:
        config = self.config
        if not config.buckets:
            self._packer(config.length, metadata).add(doc_id, document, prefix)
            return
        rng = random.Random(f"{config.seed}:{doc_id}") if config.overflow == "random" else None
        pieces, tail = decompose(len(document), config.min_bucket, config.length, rng)
        offset = 0
        for length in pieces:
            piece = Packer(length, self.tokenizer.eos_id, self._emit, metadata=metadata)
            piece.add(doc_id, document[offset:offset + length], prefix - offset, offset)
            offset += length
        if tail:
            self._packer(config.min_bucket, metadata).add(doc_id, document[offset:], prefix - offset, offset)

    def finish(self) -> None:
        for packer in self.packers.values():
            packer.flush()
