"""``curate pack OUT``: a run's documents as packed token sequences, ready for a training job.

Documents are read in output order (so in-context-pretraining contexts stay in
``context_id`` order and together), tokenised, each followed by the
end-of-document token, and either

* concatenated into rows of exactly ``seq_len`` tokens (``OUT/_packed/part-*.parquet``), or
* with ``buckets``, split dataset-decomposition style into pieces whose lengths
  are powers of two, one piece a row, a folder per length
  (``OUT/_packed/len-00256/`` ... ``len-<seq_len>/``); tails shorter than
  ``min_bucket`` are concatenated into ``min_bucket`` rows.

With ``metadata`` set, the first ``metadata_share`` of the documents (by
characters, in output order) get a metadata prefix (MeCo); the rest, the
cool-down, are plain. Shards never mix the two (``metadata`` column, and the
``metadata`` flag of every shard in ``_pack.json``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.feed.metadata import prefixes
from curate.feed.packing import Packer, Row, decompose, is_power_of_two
from curate.feed.shards import PACK_MANIFEST, ShardWriter, document_shards
from curate.feed.tokenizer import Tokenizer, load_tokenizer
from curate.io import atomic, storage
from curate.manifest import Manifest, has_manifest, read_manifest

PACKED = "_packed"  # inside OUT, beside _dropped: readers of OUT/*.parquet and pyarrow.dataset(OUT) skip it


class PackConfig(BaseModel):
    """How to pack (``curate pack`` options, or the ``pack:`` key of a pipeline)."""

    model_config = ConfigDict(extra="forbid")

    tokenizer: str = Field("default", description="'default' (the default LM's), a tokenizer.json, a local Hugging "
                                                  "Face tokenizer folder or a .gguf file.")
    eos_token: str | None = Field(None, description="Token after each document (default: <|endoftext|> or the "
                                                    "tokenizer's end-of-sequence token).")
    seq_len: int = Field(2048, ge=8, description="Tokens per packed row (the largest bucket with buckets).")
    output: str | None = Field(None, description="Folder for the packed shards (default: OUT/_packed).")
    metadata: str | None = Field(None, description="Metadata to prepend (MeCo): 'domain', 'source', or an output "
                                                   "column or meta key. Off when unset.")
    metadata_template: str | None = Field(None, description="Prefix text with {value} (default: 'URL: {value}' for "
                                                            "a URL's domain, '<field>: {value}' otherwise, then a "
                                                            "blank line).")
    metadata_share: float = Field(0.9, ge=0.0, le=1.0, description="Share of the text, in output order, that "
                                                                    "gets the prefix; the rest is the cool-down.")
    buckets: bool = Field(False, description="Dataset decomposition: power-of-two length buckets, one document "
                                             "piece a row.")
    min_bucket: int = Field(256, ge=1, description="Smallest bucket (a power of two).")
    align_contexts: bool = Field(False, description="Start a new row at every new context_id (pads the row before).")
    rows_per_shard: int = Field(8192, ge=1)
    row_group_rows: int = Field(256, ge=1)
    batch_documents: int = Field(512, ge=1, description="Documents tokenised per batch.")

    def packed_folder(self, output: str) -> str:
        """Where the packed shards of the run output ``output`` go."""
        return self.output or storage.join(output, PACKED)

    @model_validator(mode="after")
    def _check(self) -> PackConfig:
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
    config: PackConfig = Field(default_factory=PackConfig)
    tokenizer: dict[str, Any] = Field(default_factory=dict)
    documents: int = 0
    document_tokens: int = Field(0, description="Tokens of the documents, end-of-document tokens included.")
    metadata_documents: int = 0
    metadata_tokens: int = Field(0, description="Prefix tokens added (loss_mask 0).")
    padding_tokens: int = 0
    sequences: int = 0
    sequences_by_length: dict[int, int] = Field(default_factory=dict)
    shards: list[PackedShard] = Field(default_factory=list)
    seconds: float = 0.0

    def files(self, folder: str, metadata: bool | None = None, length: int | None = None) -> list[str]:
        """Shard paths in order; ``metadata`` True/False selects the conditioned share or the cool-down,
        ``length`` one bucket."""
        return [storage.join(folder, s.path) for s in self.shards
                if (metadata is None or s.metadata == metadata) and (length is None or s.length == length)]


def read_pack_manifest(folder: str) -> PackManifest:
    return PackManifest.model_validate_json(storage.read_text(storage.join(folder, PACK_MANIFEST)))


class _Sink:
    """Where packed rows go: one shard writer per row length, and the counts."""

    def __init__(self, folder: str, config: PackConfig) -> None:
        self.folder, self.config = folder, config
        self.writers: dict[int, ShardWriter] = {}

    def __call__(self, row: Row) -> None:
        length = len(row["input_ids"])
        if length not in self.writers:
            where = storage.join(self.folder, f"len-{length:05d}") if self.config.buckets else self.folder
            self.writers[length] = ShardWriter(where, self.folder, self.config.rows_per_shard,
                                               self.config.row_group_rows)
        self.writers[length].add(row)

    def close(self) -> list[PackedShard]:
        shards = []
        for length in sorted(self.writers):
            shards += [PackedShard(length=length, **s) for s in self.writers[length].close()]
        return shards


def _columns(path: str, config: PackConfig) -> list[str]:
    present = set(atomic.read_schema(path).names)
    wanted = ["id", "text", "context_id"]
    if config.metadata:
        wanted += ["source", "meta", "url", config.metadata]
    return [name for name in dict.fromkeys(wanted) if name in present]


def _metadata_cut(files: list[str], config: PackConfig) -> float:
    """Characters of text (in output order) that get the metadata prefix."""
    if not config.metadata or config.metadata_share <= 0 or not files:
        return 0.0
    total = sum(pc.sum(pc.utf8_length(atomic.read_table(path, columns=["text"]).column("text"))).as_py() or 0
                for path in files)
    return config.metadata_share * float(total)


def _run_manifest(output: str) -> Manifest | None:
    return read_manifest(output) if has_manifest(output) else None


def _staging(folder: str) -> str:
    """Where the new shards go before ``_commit``.

    Locally a fresh ``FOLDER.tmp``, renamed into place at the end. An object store cannot rename a folder:
    there the old ``_pack.json`` (the pack's commit marker) is removed first, then the old shards, and the
    new shards are written into the folder itself.
    """
    if storage.is_remote(folder):
        storage.remove(storage.join(folder, PACK_MANIFEST))
        storage.rmtree(folder)
        return folder
    staging = folder.rstrip("/") + ".tmp"
    storage.rmtree(staging)
    os.makedirs(staging)
    return staging


def _commit(staging: str, folder: str, manifest: PackManifest) -> None:
    """Write ``_pack.json`` last; locally, then move the staging folder into place."""
    atomic.write_text(storage.join(staging, PACK_MANIFEST), manifest.model_dump_json(indent=2) + "\n")
    if staging != folder:
        storage.rmtree(folder)
        os.replace(staging, folder)


def pack_output(output: str, config: PackConfig | None = None, tokenizer: Tokenizer | None = None) -> PackManifest:
    """Pack the documents of ``output`` (a run's output folder) into token shards; returns the manifest."""
    config = config or PackConfig()
    started = time.time()
    run = _run_manifest(output)
    files = document_shards(output, run)
    tokenizer = tokenizer or load_tokenizer(config.tokenizer, config.eos_token)
    folder = config.packed_folder(output)
    staging = _staging(folder)
    sink = _Sink(staging, config)
    state = _PackState(config, tokenizer, sink, _metadata_cut(files, config))
    for path in files:
        for batch in atomic.parquet_file(path).iter_batches(batch_size=config.batch_documents,
                                                       columns=_columns(path, config)):
            state.add_batch(batch)
    state.finish()
    manifest = PackManifest(
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        source=storage.absolute(output), run_created=run.created if run else "", config=config,
        tokenizer={"name": tokenizer.name, "source": tokenizer.source, "eos_token": tokenizer.eos_token,
                   "eos_id": tokenizer.eos_id, "vocab_size": tokenizer.backend.get_vocab_size()},
        documents=state.documents, document_tokens=state.document_tokens,
        metadata_documents=state.metadata_documents, metadata_tokens=state.metadata_tokens,
        padding_tokens=sum(p.padding for p in state.packers.values()),
        sequences=sum(state.sequences.values()), sequences_by_length=dict(sorted(state.sequences.items())),
        shards=sink.close(),
    )
    manifest.seconds = round(time.time() - started, 3)
    _commit(staging, folder, manifest)
    return manifest


class _PackState:
    """Documents in, packed rows out: prefixes, tokenisation, and a packer per row length and share."""

    def __init__(self, config: PackConfig, tokenizer: Tokenizer, sink: _Sink, metadata_chars: float) -> None:
        self.config, self.tokenizer, self.sink = config, tokenizer, sink
        self.metadata_chars, self.chars_seen = metadata_chars, 0
        self.prefix_ids: dict[str, np.ndarray] = {}
        self.packers: dict[tuple[int, bool], Packer] = {}
        self.sequences: dict[int, int] = {}
        self.documents = self.document_tokens = self.metadata_documents = self.metadata_tokens = 0
        self.context: Any = None
        self.share: bool | None = None
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

    def _flush(self, metadata: bool) -> None:
        for (_, share), packer in self.packers.items():
            if share == metadata:
                packer.flush()

    def add_batch(self, batch: Any) -> None:
        texts = [text or "" for text in batch.column("text").to_pylist()]
        ids = batch.column("id").to_pylist()
        contexts = batch.column("context_id").to_pylist() if "context_id" in batch.schema.names else None
        heads, shares = self._prefixes(batch, texts)
        for row, tokens in enumerate(self.tokenizer.encode(texts)):
            metadata = shares[row]
            if self.share is not None and metadata != self.share:
                self._flush(self.share)  # the cool-down starts: no row mixes the two shares
            self.share = metadata
            if contexts is not None and self.config.align_contexts and contexts[row] != self.context:
                self._flush(metadata)
                self.context = contexts[row]
            prefix = self._prefix_tokens(heads[row])
            self.documents += 1
            self.document_tokens += len(tokens) + 1
            if len(prefix):
                self.metadata_documents += 1
                self.metadata_tokens += len(prefix)
            self._place(ids[row], np.concatenate([prefix, tokens, self.eos]), len(prefix), metadata)

    def _prefixes(self, batch: Any, texts: list[str]) -> tuple[list[str | None], list[bool]]:
        """Per document its prefix (None: none) and whether it belongs to the metadata-conditioned share."""
        if not self.config.metadata:
            return [None] * len(texts), [False] * len(texts)
        values = prefixes(pa.Table.from_batches([batch]), self.config.metadata, self.config.metadata_template)
        heads, shares = [], []
        for text, value in zip(texts, values):
            inside = self.chars_seen < self.metadata_chars
            self.chars_seen += len(text)
            heads.append(value if inside else None)
            shares.append(inside)
        return heads, shares

    def _prefix_tokens(self, prefix: str | None) -> np.ndarray:
        if prefix is None:
            return self.eos[:0]
        if prefix not in self.prefix_ids:
            self.prefix_ids[prefix] = self.tokenizer.encode([prefix])[0]
        return self.prefix_ids[prefix]

    def _place(self, doc_id: str, document: np.ndarray, prefix: int, metadata: bool) -> None:
        config = self.config
        if not config.buckets:
            self._packer(config.seq_len, metadata).add(doc_id, document, prefix)
            return
        pieces, tail = decompose(len(document), config.min_bucket, config.seq_len)
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
