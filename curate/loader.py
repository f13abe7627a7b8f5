"""``curate.loader``: stream a run's output (documents or packed tokens) into PyTorch.

``CurateDataset`` is a ``torch.utils.data.IterableDataset`` over the Parquet
shards of ``curate run`` (documents) or ``curate pack`` (token sequences):

* **Splitting.** The shards' row groups, in the epoch's order, are laid end to
  end and cut into one contiguous span of rows per reader (a reader is one
  dataloader worker of one rank), as equal as rows allow, so every row is read
  by exactly one reader (``curate.feed.readers``).
* **Equal work.** Every reader yields the same number of items per epoch, so no
  rank of a data-parallel job runs out of batches before the others (which
  hangs the job): ``equalize="pad"`` (default) repeats a reader's first items up
  to the largest count, ``"drop"`` stops every reader at the smallest, as
  ``DistributedSampler`` does with ``drop_last`` False or True; None turns it off.
* **Contexts stay whole.** When rows carry a group column (``context_id`` of
  in-context-pretraining order, in documents or in packed rows aligned to
  contexts), a reader yields every context that *starts* in its span, reading
  on past the span's end to the context's last row, and skips rows that
  continue a context started before its span.
* **Shuffling** (``shuffle_buffer > 0``) permutes the units with ``seed`` and the
  epoch (``set_epoch``), then shuffles whole contexts (or documents) through a
  buffer of that many; rows of one context keep their order. The default shuffles
  in-context-pretraining data (contexts, 1,024 at a time: adjacent contexts must
  be unrelated) and leaves other data in order.
* **Shares.** A packed folder holding both shares of metadata conditioning (MeCo)
  must be read one share at a time (``metadata=True``, then ``metadata=False`` for
  the cool-down); reading both in one stream needs ``mix_shares=True``.
* **Resuming.** ``state_dict()`` records, per reader, how many rows it has
  yielded this epoch; ``load_state_dict()`` makes the next iteration replay the
  same seeded order and skip those rows. It follows the ``Stateful`` protocol that
  ``torchdata.stateful_dataloader.StatefulDataLoader`` calls inside each worker;
  resume with the same world size, workers, seed, shuffle buffer and equalize.
* **Items.** Documents come as dicts of the requested ``columns`` (default
  ``id`` and ``text``); with ``tokenizer`` they also carry ``input_ids`` (the text's
  token ids and the end-of-document token). Packed rows come as dicts of tensors
  (``input_ids``, ``loss_mask``, ``doc_starts``, ``doc_offsets``) plus ``doc_ids`` and ``tokens``.
"""

from __future__ import annotations

import glob
import itertools
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

try:
    import torch
    from torch.utils.data import IterableDataset, get_worker_info
except ImportError as exc:  # pragma: no cover - torch is an optional extra
    raise ImportError("curate.loader needs PyTorch: pip install 'curate[embed]' (or torch)") from exc

from curate.feed.contexts import GROUP
from curate.feed.readers import ContextRuns, Equalize, Unit, equal_count, split_spans
from curate.feed.shards import PACK_MANIFEST, document_shards
from curate.manifest import MANIFEST

TENSOR_COLUMNS = ("input_ids", "loss_mask", "doc_starts", "doc_offsets")
CONTEXT_SHUFFLE = 1024  # contexts in the shuffle buffer when in-context-pretraining data is read with the default

__all__ = ["CurateDataset", "Unit"]


def _files(source: str | list[str], metadata: bool | None, length: int | None, mix_shares: bool) -> list[str]:
    """The shard files in order."""
    if isinstance(source, (list, tuple)):
        files = [str(f) for f in source]
    elif os.path.isfile(os.path.join(source, PACK_MANIFEST)):
        from curate.feed.pack import read_pack_manifest

        pack = read_pack_manifest(source)
        lengths = sorted({shard.length for shard in pack.shards})
        if length is None and len(lengths) > 1:
            raise ValueError(f"{source} holds length buckets {lengths}: read one bucket at a time, "
                             f"e.g. CurateDataset({source!r}, length={lengths[0]})")
        shares = {shard.metadata for shard in pack.shards if length is None or shard.length == length}
        if metadata is None and len(shares) > 1 and not mix_shares:
            raise ValueError(f"{source} holds both shares of metadata conditioning: read the conditioned share "
                             "with metadata=True, then the cool-down with metadata=False (MeCo trains on the "
                             "cool-down last); mix_shares=True reads both in one stream")
        files = pack.files(source, metadata, length)
    elif os.path.isfile(os.path.join(source, MANIFEST)) or glob.glob(os.path.join(source, "*.parquet")):
        files = document_shards(source)
    elif os.path.isfile(source):
        files = [source]
    else:
        raise FileNotFoundError(f"{source}: no curate output here (no {MANIFEST}, {PACK_MANIFEST} or *.parquet); "
                                "pass a run's output folder, its packed/ folder or a list of Parquet files")
    if not files:
        raise FileNotFoundError(f"{source}: no shards to read")
    return files


def _row_group_sizes(path: str) -> list[int]:
    metadata = pq.ParquetFile(path).metadata
    return [metadata.row_group(g).num_rows for g in range(metadata.num_row_groups)]


def _distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is not None and world_size is not None:
        return rank, world_size
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class CurateDataset(IterableDataset):
    """Rows of a curate output folder (or packed folder), split across ranks and workers; see the module doc."""

    def __init__(
        self,
        source: str | list[str],
        *,
        columns: list[str] | None = None,
        tokenizer: Any = None,
        shuffle_buffer: int | None = None,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        group_column: str | None = "auto",
        metadata: bool | None = None,
        length: int | None = None,
        equalize: Equalize | None = "pad",
        mix_shares: bool = False,
    ) -> None:
        """``tokenizer``: None, ``"default"``, a tokenizer path, or a ``curate.feed.tokenizer.Tokenizer``.

        ``shuffle_buffer``: None shuffles whole contexts (1,024 at a time) where rows have contexts, else nothing.
        ``group_column``: ``"auto"`` uses ``context_id`` when the rows have one, None never groups.
        ``metadata`` (packed folders): True reads only the metadata-conditioned share, False the cool-down.
        ``length`` (packed folders with length buckets): the bucket to read.
        ``equalize``: every reader yields the same number of items, by repeating (``"pad"``) or dropping
        (``"drop"``); None lets readers differ (a data-parallel job then hangs at the end of the epoch).
        ``mix_shares``: read both shares of a metadata-conditioned pack in one stream.
        """
        if equalize not in ("pad", "drop", None):
            raise ValueError(f"equalize must be 'pad', 'drop' or None, not {equalize!r}")
        self.files = _files(source, metadata, length, mix_shares)
        names = pq.read_schema(self.files[0]).names
        self.packed = "input_ids" in names  # packed token rows rather than documents
        if group_column == "auto":
            group_column = GROUP if GROUP in names else None
        if group_column is not None and group_column not in names:
            raise ValueError(f"group column {group_column!r} is not in the shards (columns: {', '.join(names)})")
        self.group_column = group_column
        if shuffle_buffer is None:
            shuffle_buffer = CONTEXT_SHUFFLE if group_column == GROUP else 0
        default = [n for n in names if n != "metadata"] if self.packed else ["id", "text"]
        self.columns = list(columns or default)
        missing = [c for c in self.columns if c not in names]
        if missing:
            raise ValueError(f"columns {missing} are not in the shards (columns: {', '.join(names)})")
        if tokenizer is not None and not self.packed and "text" not in self.columns:
            self.columns.append("text")
        self.tokenizer_spec = tokenizer
        self._tokenizer: Any = None
        self.shuffle_buffer, self.seed, self.epoch, self.equalize = shuffle_buffer, seed, 0, equalize
        self.rank, self.world_size = _distributed(rank, world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside world size {self.world_size}")
        self._row_groups = [_row_group_sizes(f) for f in self.files]  # every reader plans the same units from these
        self._starts = [[0, *itertools.accumulate(groups)] for groups in self._row_groups]  # first row of each group
        self._runs = [self._context_runs(f) for f in self.files] if group_column else None
        self._yielded = 0
        self._skip = 0
        self._reader: tuple[int, int] = (0, 1)
        self._expected_reader: tuple[int, int] | None = None

    def __len__(self) -> int:
        """Rows in all shards (all readers together)."""
        return sum(sum(groups) for groups in self._row_groups)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's shuffle order (call before iterating, as with ``DistributedSampler``)."""
        self.epoch = epoch

    # -- resuming -----------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        reader, readers = self._reader
        return {"epoch": self.epoch, "seed": self.seed, "shuffle_buffer": self.shuffle_buffer,
                "equalize": self.equalize, "reader": reader, "readers": readers, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("seed", "shuffle_buffer", "equalize"):
            if state.get(key, getattr(self, key)) != getattr(self, key):
                raise ValueError(f"the state was saved with {key}={state[key]}, this dataset has "
                                 f"{getattr(self, key)}: resume with the same settings")
        self.epoch = state["epoch"]
        self._skip = state["yielded"]
        self._expected_reader = (state["reader"], state["readers"])

    # -- planning -----------------------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        """Every row group, in this epoch's order."""
        units = [Unit(file, group, 0, rows) for file, groups in enumerate(self._row_groups)
                 for group, rows in enumerate(groups) if rows]
        if self.shuffle_buffer:
            random.Random(f"{self.seed}:{self.epoch}:units").shuffle(units)
        return units

    def plan(self, readers: int) -> list[list[Unit]]:
        """Each reader's units this epoch: contiguous spans of the epoch's units, as equal in rows as possible."""
        return split_spans(self.units(), readers)

    def reader_items(self, readers: int) -> list[int]:
        """Items each reader finds in its span this epoch, before padding or dropping."""
        return [self._items_in(span) for span in self.plan(readers)]

    def items_per_reader(self, readers: int) -> list[int]:
        """Items each reader yields this epoch (after ``equalize``)."""
        counts = self.reader_items(readers)
        return [equal_count(counts, self.equalize, reader) for reader in range(readers)]

    def _items_in(self, span: list[Unit]) -> int:
        if self._runs is None:
            return sum(unit.rows for unit in span)
        return sum(self._runs[u.file].rows_starting_in(self._offset(u) + u.start, self._offset(u) + u.stop)
                   for u in span)

    def _offset(self, unit: Unit) -> int:
        return self._starts[unit.file][unit.row_group]

    def _context_runs(self, path: str) -> ContextRuns:
        keys = pq.read_table(path, columns=[self.group_column])[self.group_column]
        return ContextRuns(keys.to_numpy())

    def _reader_slot(self) -> tuple[int, int]:
        info = get_worker_info()
        workers, worker = (info.num_workers, info.id) if info is not None else (1, 0)
        return self.rank * workers + worker, self.world_size * workers

    # -- reading ------------------------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict[str, Any]]:
        reader, readers = self._reader = self._reader_slot()
        expected = self._expected_reader
        if expected is not None and self._skip and expected != (reader, readers):
            raise ValueError(f"the state was saved by reader {expected[0]} of {expected[1]}, this is reader {reader} "
                             f"of {readers}: resume with the same world size and number of workers")
        skip, self._skip, self._yielded = self._skip, 0, 0
        plan = self.plan(readers)
        counts = [self._items_in(span) for span in plan]
        target = equal_count(counts, self.equalize, reader)
        groups = self._stream(plan[reader], reader)
        if target > counts[reader]:
            groups = itertools.chain(groups, self._padding(plan, counts, reader))
        for group in groups:
            group = group[:target - self._yielded]
            if self._yielded + len(group) <= skip:  # replaying up to the saved position
                self._yielded += len(group)
            else:
                for item in group:
                    self._yielded += 1
                    if self._yielded > skip:
                        yield self._item(item)
            if self._yielded >= target:
                return

    def _stream(self, units: list[Unit], reader: int) -> Iterator[list[dict]]:
        groups = self._groups(units)
        if self.shuffle_buffer:
            groups = self._shuffled(groups, random.Random(f"{self.seed}:{self.epoch}:{reader}"))
        return groups

    def _padding(self, plan: list[list[Unit]], counts: list[int], reader: int) -> Iterator[list[dict]]:
        """The reader's own items again, from the start (all readers' items if it has none), for ever."""
        units = plan[reader] if counts[reader] else [unit for span in plan for unit in span]
        while True:
            empty = True
            for group in self._stream(units, reader):
                empty = False
                yield group
            if empty:
                return

    def _shuffled(self, groups: Iterator[list[dict]], rng: random.Random) -> Iterator[list[dict]]:
        buffer: list[list[dict]] = []
        for group in groups:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(group)
                continue
            index = rng.randrange(len(buffer))
            yield buffer[index]
            buffer[index] = group
        rng.shuffle(buffer)
        yield from buffer

    def _rows(self, table: pa.Table) -> list[dict[str, Any]]:
        """A row group's rows as dicts; packed id lists become tensors without a detour through Python lists."""
        if not self.packed:
            return table.select(self.columns).to_pylist()
        columns: dict[str, list] = {}
        for name in self.columns:
            column = table[name].combine_chunks()
            if name in TENSOR_COLUMNS:
                offsets = column.offsets.to_numpy()
                values = torch.from_numpy(column.values.to_numpy(zero_copy_only=False).astype(np.int64))
                columns[name] = [values[offsets[i]:offsets[i + 1]] for i in range(len(column))]
            else:
                columns[name] = column.to_pylist()
        return [dict(zip(columns, row)) for row in zip(*columns.values())]

    def _groups(self, units: list[Unit]) -> Iterator[list[dict]]:
        """Each unit's rows as whole groups: contexts that start in the unit, or single rows."""
        cache: dict[tuple[int, int], tuple[pa.Table, list[dict]]] = {}

        def group(file: int, row_group: int) -> tuple[pa.Table, list[dict]]:
            key = (file, row_group)
            if key not in cache:
                cache.clear()
                columns = list(dict.fromkeys(self.columns + ([self.group_column] if self.group_column else [])))
                table = pq.ParquetFile(self.files[file]).read_row_group(row_group, columns=columns)
                cache[key] = (table, self._rows(table))
            return cache[key]

        for unit in units:
            table, rows = group(unit.file, unit.row_group)
            if self.group_column is None:
                for row in range(unit.start, unit.stop):
                    yield [rows[row]]
                continue
            yield from self._contexts(unit, table, rows, group)

    def _contexts(self, unit: Unit, table: pa.Table, rows: list[dict], group: Any) -> Iterator[list[dict]]:
        keys = table[self.group_column].to_numpy(zero_copy_only=False)
        start = unit.start
        previous = keys[start - 1] if start > 0 else self._last_key(unit)
        while start < unit.stop and previous is not None and keys[start] == previous:
            start += 1  # continues a context that started before this unit: its owner yields it
        while start < unit.stop:
            stop = start + 1
            while stop < len(keys) and keys[stop] == keys[start]:
                stop += 1
            context = rows[start:stop]
            if stop == len(keys):
                context += self._continuation(unit, keys[start], group)
            yield context
            start = stop

    def _last_key(self, unit: Unit) -> Any:
        if unit.row_group == 0:
            return None
        previous = pq.ParquetFile(self.files[unit.file]).read_row_group(unit.row_group - 1,
                                                                         columns=[self.group_column])
        return previous[self.group_column][-1].as_py() if previous.num_rows else None

    def _continuation(self, unit: Unit, key: Any, group: Any) -> list[dict]:
        """Rows of the context ``key`` in the row groups after ``unit``'s (the same file: shards end with contexts)."""
        found: list[dict] = []
        for row_group in range(unit.row_group + 1, len(self._row_groups[unit.file])):
            table, rows = group(unit.file, row_group)
            same = table[self.group_column].to_numpy(zero_copy_only=False) == key
            count = len(same) if same.all() else int(np.argmin(same))
            found += rows[:count]
            if count < len(same):
                break
        return found

    def _item(self, item: dict[str, Any]) -> dict[str, Any]:
        if not self.packed and self.tokenizer_spec is not None:
            item["input_ids"] = torch.from_numpy(self._encode(item["text"]).astype(np.int64))
        return item

    def _encode(self, text: str) -> np.ndarray:
        if self._tokenizer is None:
            from curate.feed.tokenizer import Tokenizer, load_tokenizer

            spec = self.tokenizer_spec
            self._tokenizer = spec if isinstance(spec, Tokenizer) else load_tokenizer(spec)
        ids = self._tokenizer.encode([text or ""])[0]
        return np.append(ids, self._tokenizer.eos_id)
