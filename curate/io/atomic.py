"""Files that appear whole or not at all, on local disk and in object stores; Parquet through them.

Locally a file is written under ``NAME.tmp`` and renamed when complete. An
object store has no rename, but it publishes an object only when its upload
completes (one PUT, or a multipart upload's final call), so the object is
uploaded under its own key and the upload is completed on :meth:`commit` only;
anything else (an exception, the object being dropped, a killed process)
leaves no object behind. Groups of files (a unit's parts, a step, an output)
are committed by a marker written after them (see ``curate.engine.mapping``,
``curate.io.checkpoint`` and ``curate.manifest``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from curate.io import storage

TMP = ".tmp"


class AtomicFile(io.RawIOBase):
    """A binary write stream; the file exists under its name only after :meth:`commit`.

    ``close()`` without ``commit()`` (also on garbage collection) throws the
    content away. ``written`` counts the bytes, the file's size once committed.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.written = 0
        self._committed = False
        if storage.is_remote(path):
            fs, inner = storage.filesystem(path)
            self._file: Any = storage.guarded(path, lambda: fs.open(inner, "wb"))
        else:
            local = storage.absolute(path)
            with storage.local_writes(path):
                os.makedirs(os.path.dirname(local), exist_ok=True)
                self._file = open(local + TMP, "wb")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        with storage.local_writes(self.path):
            count = self._file.write(data)
        self.written += len(data) if count is None else count
        return len(data) if count is None else count

    def tell(self) -> int:
        return self.written

    def commit(self) -> None:
        """Publish the file under its name."""
        if storage.is_remote(self.path):
            storage.guarded(self.path, self._file.close)
        else:
            local = storage.absolute(self.path)
            try:
                with storage.local_writes(self.path):
                    self._file.close()
                    os.replace(local + TMP, local)
            except BaseException:
                self._discard()  # a failed flush (a full disk) leaves no temporary file behind
                raise
        self._committed = True
        super().close()

    def close(self) -> None:
        if not self._committed and not self.closed:
            self._discard()
        super().close()

    def _discard(self) -> None:
        if storage.is_remote(self.path):
            try:
                self._file.discard()  # aborts a multipart upload; a single PUT was never sent
            finally:
                self._file.closed = True  # so the store file's own finaliser never completes the upload
        else:
            try:
                self._file.close()
            except OSError:  # the flush that failed (a full disk) fails again; the file goes anyway
                pass
            try:
                os.remove(storage.absolute(self.path) + TMP)
            except FileNotFoundError:
                pass


@contextmanager
def atomic_write(path: str) -> Iterator[AtomicFile]:
    """A file written in the ``with`` block, committed when the block ends without an exception."""
    handle = AtomicFile(path)
    try:
        yield handle
    except BaseException:
        handle.close()
        raise
    handle.commit()


def write_bytes(path: str, data: bytes) -> None:
    with atomic_write(path) as handle:
        handle.write(data)


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


class ParquetFileWriter:
    """``pq.ParquetWriter`` whose file is published by ``close()``; ``abort()`` leaves nothing.

    Locally pyarrow writes ``NAME.tmp`` itself (no Python in the write path) and ``close()`` renames it; in an
    object store it writes into an :class:`AtomicFile`.
    """

    def __init__(self, path: str, schema: pa.Schema, **options: Any) -> None:
        self.path = path
        self.file: AtomicFile | None = None
        if storage.is_remote(path):
            self.file = AtomicFile(path)
            sink: Any = self.file
        else:
            self.local = storage.absolute(path)
            with storage.local_writes(path):
                os.makedirs(os.path.dirname(self.local), exist_ok=True)
            sink = self.local + TMP
        with storage.local_writes(path):
            self.writer = pq.ParquetWriter(sink, schema, **options)

    def write_table(self, table: pa.Table, **options: Any) -> None:
        with storage.local_writes(self.path):
            self.writer.write_table(table, **options)

    def close(self) -> int:
        """Finish and publish the file; returns its size in bytes."""
        with storage.local_writes(self.path):
            self.writer.close()
            if self.file is not None:
                self.file.commit()
                return self.file.written
            os.replace(self.local + TMP, self.local)
            return os.path.getsize(self.local)

    def abort(self) -> None:
        """Throw the unfinished file away (also after a failed write or close)."""
        try:
            self.writer.close()
        except OSError:  # the write that failed (a full disk) fails again here; the file goes anyway
            pass
        if self.file is not None:
            self.file.close()
        else:
            try:
                os.remove(self.local + TMP)
            except FileNotFoundError:
                pass


def write_table(table: pa.Table, path: str, **options: Any) -> int:
    """Write a whole Parquet file atomically; returns its size in bytes."""
    writer = ParquetFileWriter(path, table.schema, **options)
    try:
        writer.write_table(table)
        return writer.close()
    except BaseException:
        writer.abort()
        raise


def _source(path: str) -> tuple[str, Any]:
    if not storage.is_remote(path):
        return storage.absolute(path), None
    fs, inner = storage.filesystem(path)
    return inner, fs


def read_table(path: str, columns: list[str] | None = None) -> pa.Table:
    where, fs = _source(path)
    return storage.guarded(path, lambda: pq.read_table(where, columns=columns, filesystem=fs))


def read_schema(path: str) -> pa.Schema:
    where, fs = _source(path)
    return storage.guarded(path, lambda: pq.read_schema(where, filesystem=fs))


def parquet_file(path: str) -> pq.ParquetFile:
    where, fs = _source(path)
    return storage.guarded(path, lambda: pq.ParquetFile(where, filesystem=fs))
