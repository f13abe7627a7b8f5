"""Readers: JSONL (plain, .gz, .zst), Parquet and WARC (``curate.io.warc``) files, folders and globs.

Each record becomes one row of the document contract (see ``curate.documents``).
Bad records never stop a run and are never lost: they are returned as rows
marked with a ``read`` drop reason (and their file and line), so the runner
writes them to the dropped-documents table. With ``strict`` the first bad
record raises :class:`InputError` instead.

Quarantine reasons: ``malformed_json``, ``not_an_object``, ``invalid_utf8``,
``missing_text``, ``null_text``, ``non_string_text``, ``empty_text``,
``too_large``. Invalid UTF-8 can instead be repaired (``utf8_errors:
replace``); repaired rows are counted in the manifest. A UTF-8 byte-order
mark at the start of a JSONL line (or file) is skipped.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curate.documents import MAX_FILES, order_of
from curate.errors import InputError as InputError
from curate.io import atomic, storage
from curate.io.records import REPAIRED as REPAIRED
from curate.io.records import UNREADABLE_RECORD, BatchBuilder, Format, too_many_records
from curate.io.records import InputFile as InputFile
from curate.io.records import ReaderConfig as ReaderConfig
from curate.io.warc import WARC_SUFFIXES, check_warc_reader, read_warc

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".ndjson.gz", ".jsonl.zst", ".json.zst", ".ndjson.zst")
PARQUET_SUFFIXES = (".parquet", ".pq")
BOM = b"\xef\xbb\xbf"


SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES + WARC_SUFFIXES


def _format_of(path: str) -> Format | None:
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(WARC_SUFFIXES):
        return "warc"
    return None


def resolve_inputs(paths: list[str] | str, exclude: str | None = None) -> list[InputFile]:
    """Expand files, folders (recursively) and globs into a sorted file list.

    Folders and files whose names start with ``.`` or ``_`` are skipped, and so
    is ``exclude`` (the run's output folder, when it lies inside an input folder).
    Object store URLs (``s3://bucket/prefix``, ...) are listed the same way.
    """
    if isinstance(paths, str):
        paths = [paths]
    found: dict[str, InputFile] = {}
    for spec in paths:
        if storage.is_remote(spec):
            for file in _resolve_remote(spec, exclude):
                found.setdefault(file.path, file)
            continue
        excluded = os.path.abspath(exclude) + os.sep if exclude and not storage.is_remote(exclude) else None
        if any(ch in spec for ch in "*?["):
            matches = sorted(glob.glob(spec, recursive=True))
            if not matches:
                raise InputError(f"no input file matches {spec!r}")
            root = os.path.dirname(spec.split("*")[0].split("?")[0].split("[")[0]) or "."
            candidates = [(m, root) for m in matches if os.path.isfile(m)]
        elif os.path.isdir(spec):
            candidates = []
            for dirpath, dirnames, filenames in os.walk(spec):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
                candidates += [(os.path.join(dirpath, f), spec) for f in sorted(filenames) if not f.startswith((".", "_"))]
            if excluded:
                candidates = [(p, r) for p, r in candidates if not os.path.abspath(p).startswith(excluded)]
        elif os.path.isfile(spec):
            candidates = [(spec, os.path.dirname(spec) or ".")]
        else:
            raise InputError(f"input path not found: {spec}")
        usable = [(p, r, kind) for p, r in candidates if (kind := _format_of(p)) is not None]
        if not usable:
            raise InputError(f"no JSONL, Parquet or WARC files in {spec!r} (looked for {', '.join(SUFFIXES)})")
        for path, root, kind in usable:
            full = os.path.abspath(path)
            found.setdefault(full, InputFile(full, os.path.relpath(full, os.path.abspath(root)), os.path.getsize(full), kind))
    _check_file_count(len(found))
    return sorted(found.values(), key=lambda f: f.path)


def _resolve_remote(spec: str, exclude: str | None) -> list[InputFile]:
    """The input files of one object store URL: an object, a prefix (recursively) or a glob."""
    spec = spec.rstrip("/")
    if any(ch in spec for ch in "*?["):
        sizes = storage.glob(spec)
        if not sizes:
            raise InputError(f"no input file matches {spec!r}")
        root = spec.split("*")[0].split("?")[0].split("[")[0].rsplit("/", 1)[0]
    elif storage.isfile(spec):
        sizes, root = {spec: storage.size(spec)}, spec.rsplit("/", 1)[0]
    else:
        sizes, root = storage.files_under(spec), spec
        if not sizes:
            raise InputError(f"input path not found: {spec}")
    excluded = storage.absolute(exclude) + "/" if exclude and storage.is_remote(exclude) else None
    files = []
    for path, size in sorted(sizes.items()):
        name = path[len(root):].lstrip("/")
        if any(part.startswith((".", "_")) for part in name.split("/")) or (excluded and path.startswith(excluded)):
            continue
        kind = _format_of(path)
        if kind is not None:
            files.append(InputFile(path, name, size, kind))
    if not files:
        raise InputError(f"no JSONL, Parquet or WARC files in {spec!r} (looked for {', '.join(SUFFIXES)})")
    return files


def _check_file_count(count: int) -> None:
    """Each file's index must fit in a document's ``_order`` (see ``curate.documents``)."""
    if count > MAX_FILES:
        raise InputError(f"{count} input files, at most {MAX_FILES} can be read in one run; "
                         "merge small files or run in several parts")


def _open_binary(path: str) -> io.BufferedIOBase:
    lower = path.lower()
    if lower.endswith(".gz"):
        return _GzipReader(storage.open_read(path))  # type: ignore[return-value]
    if lower.endswith(".zst"):
        return io.BufferedReader(_ZstdStream(path), buffer_size=1 << 20)
    return storage.open_read(path)  # type: ignore[return-value]


class _GzipReader(gzip.GzipFile):
    """A gzip stream over an open file (local or in a store) that closes the file with itself."""

    def __init__(self, source: io.IOBase) -> None:
        super().__init__(fileobj=source, mode="rb")
        self._source = source

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._source.close()


class _ZstdStream(io.RawIOBase):
    """Decompresses a (multi-frame) .zst file and raises on a truncated one.

    zstandard's own stream reader ends quietly when a file is cut short; a
    truncated input must be reported instead of silently losing its tail.
    """

    def __init__(self, path: str) -> None:
        import zstandard

        self._zstd = zstandard
        self._file = storage.open_read(path)
        self._decoder = zstandard.ZstdDecompressor().decompressobj()
        self._pending = b""
        self._seen_data = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = self._file.read(1 << 20)
            if not chunk:
                if self._seen_data and not self._decoder.eof:
                    raise EOFError("compressed stream ends before its end marker (truncated .zst file)")
                return 0
            self._seen_data = True
            self._pending = self._decoder.decompress(chunk)
            while self._decoder.eof and self._decoder.unused_data:
                rest = self._decoder.unused_data
                self._decoder = self._zstd.ZstdDecompressor().decompressobj()
                self._pending += self._decoder.decompress(rest)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def close(self) -> None:
        self._file.close()
        super().close()


def _to_id(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


class _Bad(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _check_text(text: Any, present: bool, config: ReaderConfig) -> str:
    field = config.text_field
    if not present:
        raise _Bad("missing_text", f"record has no {field!r} field")
    if text is None:
        raise _Bad("null_text", f"{field!r} is null")
    if not isinstance(text, str):
        raise _Bad("non_string_text", f"{field!r} is a {type(text).__name__}, expected a string")
    if not text.strip():
        raise _Bad("empty_text", f"{field!r} is empty")
    if len(text) > config.max_doc_bytes // 4 and len(text.encode("utf-8", "surrogatepass")) > config.max_doc_bytes:
        raise _Bad("too_large", f"{field!r} is larger than max_doc_bytes={config.max_doc_bytes}")
    return text


def read_jsonl(file_index: int, file: InputFile, config: ReaderConfig) -> Iterator[pa.Table]:
    """Yield marked document batches from one JSONL file."""
    builder = BatchBuilder(config)
    with _open_binary(file.path) as handle:
        try:
            for line_no, raw in enumerate(handle, start=1):
                if raw.startswith(BOM):
                    raw = raw[len(BOM):]
                if not raw.strip():
                    continue  # blank lines carry no record
                if line_no >= UNREADABLE_RECORD:
                    raise too_many_records(file)
                _read_jsonl_line(raw, line_no, file_index, file, config, builder)
                if builder.full() and (table := builder.flush()) is not None:
                    yield table
        except (OSError, EOFError) as exc:  # truncated or corrupt compressed stream
            if config.strict:
                raise InputError(f"{file.name}: cannot be read to the end: {exc}") from None
            line_no = len(builder.repaired) + 1
            builder.add(id=f"{file.name}:<unreadable>", text=None, source=file.name, meta=None,
                        order=order_of(file_index, UNREADABLE_RECORD), reason="unreadable_file",
                        detail=f"{file.name}: stopped reading: {exc}")
    table = builder.flush()
    if table is not None:
        yield table


def _read_jsonl_line(raw: bytes, line_no: int, file_index: int, file: InputFile, config: ReaderConfig,
                     builder: BatchBuilder) -> None:
    order = order_of(file_index, line_no)
    derived_id = f"{file.name}:{line_no}"
    where = f"{file.name}:{line_no}"
    repaired = False
    try:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if config.utf8_errors == "quarantine":
                raise _Bad("invalid_utf8", f"invalid UTF-8 at byte {exc.start}") from None
            raw = raw.decode("utf-8", "replace").encode("utf-8")
            repaired = True
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _Bad("malformed_json", f"malformed JSON: {exc}") from None
        if not isinstance(record, dict):
            raise _Bad("not_an_object", f"line holds a JSON {type(record).__name__}, expected an object")
        text = _check_text(record.get(config.text_field), config.text_field in record, config)
    except _Bad as bad:
        if config.strict:
            raise InputError(f"{where}: {bad} (reason {bad.reason}; drop --strict to quarantine such records)") from None
        text_out = raw.decode("utf-8", "replace").rstrip("\r\n")
        builder.add(id=derived_id, text=text_out, source=file.name, meta=None, order=order,
                    reason=bad.reason, detail=f"{where}: {bad}")
        return
    doc_id = _to_id(record.pop(config.id_field, None)) or derived_id
    record.pop(config.text_field)
    source = record.pop(config.source_field, None)
    source = source if isinstance(source, str) else file.name
    meta = orjson.dumps(record).decode() if record else None
    builder.add(id=doc_id, text=text, source=source, meta=meta, order=order, repaired=repaired)


def open_parquet(file: InputFile, config: ReaderConfig) -> pq.ParquetFile:
    """Open a Parquet input, or raise InputError when it is unreadable or has no string text column."""
    try:
        parquet = atomic.parquet_file(file.path)
    except storage.StorageError:
        raise
    except FileNotFoundError:
        raise removed(file) from None
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"{file.name}: not a readable Parquet file: {exc}") from None
    schema = parquet.schema_arrow
    if config.text_field not in schema.names:
        raise InputError(
            f"{file.name}: no column {config.text_field!r}; columns are {', '.join(schema.names)}. "
            "Set text_field (--text-field) to the column holding the text."
        )
    text_type = schema.field(config.text_field).type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        raise InputError(f"{file.name}: column {config.text_field!r} is {text_type}, expected a string column")
    return parquet


def check_inputs(files: list[InputFile], config: ReaderConfig) -> None:
    """Raise InputError for the first Parquet input that cannot be read as documents (its footer and schema only),
    or for WARC inputs when warcio is not installed."""
    for file in files:
        if file.format == "parquet":
            open_parquet(file, config)
    if any(file.format == "warc" for file in files):
        check_warc_reader()


def read_parquet(file_index: int, file: InputFile, config: ReaderConfig) -> Iterator[pa.Table]:
    """Yield marked document batches from one Parquet file."""
    parquet = open_parquet(file, config)
    if parquet.metadata.num_rows >= UNREADABLE_RECORD:
        raise too_many_records(file)
    builder = BatchBuilder(config)
    record_index = 0
    for batch in parquet.iter_batches(batch_size=min(config.batch_rows, 4096)):
        for record in batch.to_pylist():
            record_index += 1
            order = order_of(file_index, record_index)
            where = f"{file.name}:row {record_index}"
            derived_id = f"{file.name}:{record_index}"
            try:
                text = _check_text(record.get(config.text_field), True, config)
            except _Bad as bad:
                if config.strict:
                    raise InputError(f"{where}: {bad} (reason {bad.reason})") from None
                raw = record.pop(config.text_field)
                builder.add(id=_to_id(record.get(config.id_field)) or derived_id,
                            text=raw if isinstance(raw, str) else None, source=file.name,
                            meta=_dump_meta(record), order=order, reason=bad.reason, detail=f"{where}: {bad}")
                continue
            doc_id = _to_id(record.pop(config.id_field, None)) or derived_id
            record.pop(config.text_field)
            source = record.pop(config.source_field, None)
            source = source if isinstance(source, str) else file.name
            builder.add(id=doc_id, text=text, source=source, meta=_dump_meta(record), order=order)
            if builder.full() and (table := builder.flush()) is not None:
                yield table
    table = builder.flush()
    if table is not None:
        yield table


def _dump_meta(record: dict[str, Any]) -> str | None:
    if not record:
        return None
    return orjson.dumps(record, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


def read_file(file_index: int, file: InputFile, config: ReaderConfig) -> Iterator[pa.Table]:
    """Yield marked document batches from one input file of either format."""
    if not 0 <= file_index < MAX_FILES:
        raise InputError(f"{file.name}: file index {file_index} out of range; at most {MAX_FILES} input files")
    reader = {"parquet": read_parquet, "warc": read_warc}.get(file.format, read_jsonl)
    check_unchanged(file)
    try:
        yield from reader(file_index, file, config)
    except FileNotFoundError:  # removed between the check and the open
        raise removed(file) from None


def removed(file: InputFile) -> InputError:
    return InputError(f"input file {file.path} was removed after the run started; restore it, or re-run the same "
                      "command to read the inputs as they are now")


def check_unchanged(file: InputFile) -> None:
    """Read a file only as the run listed it: one removed or rewritten since fails the run, naming it.

    The run's fingerprint and its manifest record each input's size as listed; reading another version would
    give an output that matches neither. Files already read when one changes are not read again.
    """
    try:
        now = storage.size(file.path)
    except FileNotFoundError:
        raise removed(file) from None
    if now != file.size and (file.size or not storage.is_remote(file.path)):  # a store may list no sizes
        raise InputError(f"input file {file.path} changed after the run started ({file.size:,} bytes when listed, "
                         f"{now:,} now); re-run the same command to read the inputs as they are now")
