"""The WARC reader: web archives (``.warc``, ``.warc.gz``, local or in a store) to documents.

Each ``response`` record of an HTTP 200 with an HTML content type becomes a
document: ``id`` is the record's ``WARC-Record-ID`` (without the angle
brackets), ``text`` the HTML decoded by :mod:`curate.io.html_charset`,
``source`` the file, ``meta`` a JSON object with ``url``, ``date``
(``WARC-Date``), ``content_type``, ``status`` and ``charset`` (and
``truncated``, the ``WARC-Truncated`` reason, when the crawler cut the payload).

Other responses are documents that leave at once, as rows of the
dropped-documents table with stage ``read`` and a reason: ``http_status``
(not 200), ``not_html`` (another content type; the payload is not kept),
``empty_text``, ``too_large`` (a payload over ``max_doc_bytes``) and
``unreadable_record`` (a payload that cannot be decoded, e.g. a broken
``Content-Encoding``). Records that are no response (``warcinfo``,
``request``, ``metadata``, ``revisit``, ...) are no documents: they are
counted per type in the read stage's statistics (``warc.records_skipped``),
as are the charsets used and the invalid bytes replaced.

A file cut short (a truncated gzip member, a record shorter than its
``Content-Length``) or not a WARC at all: the records before the damage are
read, and one ``unreadable_file`` row says where reading stopped (with
``strict``, an :class:`InputError`).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa

from curate.documents import order_of
from curate.errors import InputError
from curate.io import storage
from curate.io.html_charset import decode_html
from curate.io.records import UNREADABLE_RECORD, BatchBuilder, InputFile, ReaderConfig, too_many_records

WARC_SUFFIXES = (".warc", ".warc.gz")
HTML_TYPES = ("text/html", "application/xhtml+xml")
_SNIFF = (b"<!doctype html", b"<html")
_CHUNK = 1 << 16
_SLICE = 1 << 13


class Damaged(Exception):
    """The file cannot be read on: a truncated or corrupt compressed stream, a record cut short."""


class _Stream(io.RawIOBase):
    """A WARC file's bytes, gunzipped member by member when ``gzipped``.

    Damage (a gzip stream cut short or corrupt, a read error) ends the stream
    as if the file ended there, and :attr:`damage` says what happened: every
    byte before it is still delivered (a buffered reader would drop the bytes
    of a read that raises). The reader reports the damage once warcio stops.
    warcio itself takes an ``EOFError`` for the end of the archive, so without
    this a truncated gzip stream would end a file quietly.
    """

    def __init__(self, path: str, gzipped: bool) -> None:
        self._file = storage.open_read(path)
        self._decoder = zlib.decompressobj(wbits=31) if gzipped else None
        self._pending = b""
        self._position = 0
        self._started = False
        self.damage: str | None = None

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer: Any) -> int:
        while not self._pending and self.damage is None:
            try:
                chunk = self._file.read(_CHUNK)
            except OSError as exc:
                self.damage = f"read error: {type(exc).__name__}: {exc}"
                break
            if not chunk:
                if self._decoder is not None and self._started and not self._decoder.eof:
                    self.damage = "the gzip stream ends inside a member (truncated file)"
                break
            self._started = True
            self._pending = chunk if self._decoder is None else self._inflate(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self._position += size
        return size

    def _inflate(self, chunk: bytes) -> bytes:
        """Inflate a chunk in small slices (corrupt data loses one slice's output at most), starting a new
        decoder at each member's end (one member per record is usual)."""
        out = []
        decoder = self._decoder or zlib.decompressobj(wbits=31)
        for start in range(0, len(chunk), _SLICE):
            data = chunk[start:start + _SLICE]
            try:
                out.append(decoder.decompress(data))
                while decoder.eof and decoder.unused_data:
                    rest = decoder.unused_data
                    decoder = self._decoder = zlib.decompressobj(wbits=31)
                    out.append(decoder.decompress(rest))
            except zlib.error as exc:
                self.damage = f"corrupt gzip data: {exc}"
                break
        return b"".join(out)

    def close(self) -> None:
        self._file.close()
        super().close()


def _open(file: InputFile) -> io.BufferedReader:
    return io.BufferedReader(_Stream(file.path, file.path.lower().endswith(".gz")), buffer_size=_CHUNK)


def check_warc_reader() -> None:
    """Raise InputError when warcio, which parses the archives, is not installed."""
    try:
        import warcio  # noqa: F401
    except ImportError:
        raise InputError("reading WARC files needs warcio: pip install 'curate[web]'") from None


def read_warc(file_index: int, file: InputFile, config: ReaderConfig) -> Iterator[pa.Table]:
    """Yield marked document batches from one WARC file (see the module docstring)."""
    check_warc_reader()
    from warcio.archiveiterator import ArchiveIterator

    builder = BatchBuilder(config)
    whole = 0  # records read to their end
    with _open(file) as handle:
        try:
            records = ArchiveIterator(handle)
            for number, record in enumerate(records, start=1):
                if number >= UNREADABLE_RECORD:
                    raise too_many_records(file)
                if record.format != "warc":  # warcio also reads the older ARC format, and takes text lines for it
                    raise Damaged(f"record {number} is no WARC record (it starts {record.rec_headers.statusline!r})")
                _read_record(record, number, file_index, file, config, builder)
                _drain(record, number)
                whole = number
                if builder.full() and (table := builder.flush()) is not None:
                    yield table
            _check_end(handle, records.offset, whole)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - warcio raises many types for damaged archives
            damage = _stream(handle).damage or _describe(exc)
            message = f"{file.name}: stopped reading after {whole} whole records: {damage}"
            if config.strict:
                raise InputError(message) from None
            builder.add(id=f"{file.name}:<unreadable>", text=None, source=file.name, meta=None,
                        order=order_of(file_index, UNREADABLE_RECORD), reason="unreadable_file", detail=message)
    table = builder.flush()
    if table is not None:
        yield table


def _stream(handle: io.BufferedReader) -> _Stream:
    """The gzip-aware stream under ``handle``, which records what damage it met."""
    assert isinstance(handle.raw, _Stream)
    return handle.raw


def _describe(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:300]
    return text if isinstance(exc, Damaged) else f"{type(exc).__name__}: {text}"


def _check_end(handle: io.BufferedReader, end: int, whole: int) -> None:
    """warcio ends quietly at a record cut inside its header: bytes after the last whole record are damage."""
    while handle.read(_CHUNK):
        pass
    stream = _stream(handle)
    if stream.damage:
        raise Damaged(stream.damage)
    left = stream.tell() - end
    if left > 0:
        raise Damaged(f"the last {left} bytes are no whole record (truncated file)")


def _drain(record: Any, number: int) -> None:
    """Read the rest of a record and raise :class:`Damaged` when it is shorter than its Content-Length."""
    stream = record.raw_stream
    while stream.read(_CHUNK):
        pass
    if not hasattr(stream, "limit"):
        raise Damaged(f"record {number} has no Content-Length (its header is cut short or broken)")
    if stream.limit > 0:
        raise Damaged(f"record {number} ends {stream.limit} bytes before its Content-Length (truncated file)")


def _read_record(record: Any, number: int, file_index: int, file: InputFile, config: ReaderConfig,
                 builder: BatchBuilder) -> None:
    builder.count("warc", "records")
    kind = record.rec_type or "unknown"
    if kind != "response":
        builder.count("warc", "records_skipped", kind)
        return
    headers = record.rec_headers
    record_id = (headers.get_header("WARC-Record-ID") or "").strip().strip("<>")
    url = headers.get_header("WARC-Target-URI")
    http = record.http_headers
    status = http.get_statuscode() if http is not None else None
    content_type = (http.get_header("Content-Type") if http is not None else None) or \
        headers.get_header("WARC-Identified-Payload-Type")
    meta = {"url": url, "date": headers.get_header("WARC-Date"), "content_type": content_type,
            "status": int(status) if status and status.isdigit() else status}
    if headers.get_header("WARC-Truncated"):  # the crawler cut the payload (Common Crawl: at 1 MiB)
        meta["truncated"] = headers.get_header("WARC-Truncated")
    where = f"{file.name}: record {number} ({url})"

    def drop(reason: str, detail: str, text: str | None = None) -> None:
        _drain(record, number)  # a record cut short is the file's damage, not this record's reason
        if config.strict and reason in ("too_large", "unreadable_record"):
            raise InputError(f"{where}: {detail} (reason {reason}; drop --strict to quarantine such records)")
        builder.add(id=record_id or f"{file.name}:{number}", text=text, source=file.name,
                    meta=orjson.dumps(meta).decode(), order=order_of(file_index, number), reason=reason,
                    detail=f"{where}: {detail}")

    if http is None:
        return drop("not_html", f"no HTTP response (record content type {record.content_type})")
    if status != "200":
        return drop("http_status", f"HTTP status {http.statusline}")
    try:
        payload = record.content_stream().read(config.max_doc_bytes + 1)
    except Damaged:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken Content-Encoding or chunking of one response
        return drop("unreadable_record", f"payload cannot be decoded: {type(exc).__name__}: {exc}")
    if not _is_html(content_type, payload):
        return drop("not_html", f"content type {content_type or 'missing'}")
    if len(payload) > config.max_doc_bytes:
        return drop("too_large", f"payload larger than max_doc_bytes={config.max_doc_bytes}")
    decoded = decode_html(payload, content_type)
    meta["charset"] = decoded.charset
    builder.count("warc", "charset", decoded.charset)
    if decoded.invalid_bytes:
        builder.count("warc", "invalid_bytes", by=decoded.invalid_bytes)
        builder.count("warc", "documents_with_invalid_bytes")
        meta["invalid_bytes"] = decoded.invalid_bytes
    if not decoded.text.strip():
        return drop("empty_text", "empty payload")
    _drain(record, number)
    builder.count("warc", "documents")
    builder.add(id=record_id or f"{file.name}:{number}", text=decoded.text, source=file.name,
                meta=orjson.dumps(meta).decode(), order=order_of(file_index, number))


def _is_html(content_type: str | None, payload: bytes) -> bool:
    """An HTML content type, or (none given) a payload that starts like an HTML page."""
    if content_type:
        return content_type.split(";")[0].strip().lower() in HTML_TYPES
    return payload[:512].lstrip().lower().startswith(_SNIFF)
