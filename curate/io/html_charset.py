"""Bytes of a fetched web page to text: the charset the server or the page declares, else a guess.

Order, as browsers do it: a byte-order mark; the ``charset`` of the HTTP
``Content-Type`` header; a ``<meta charset>`` (or ``http-equiv``) in the
first 4 KiB; else UTF-8 when the bytes are valid UTF-8, else charset-normalizer's
guess among the legacy charsets common on the web (:data:`GUESSED`), else
windows-1252. Labels that browsers read as windows-1252
(``iso-8859-1``, ``latin1``, ``us-ascii``) are decoded as windows-1252, and a
label Python does not know falls through to the next step.

Bytes invalid in the chosen charset never fail the decoding: each becomes
U+FFFD and is counted.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

META_WINDOW = 4096
_META = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_ESCAPED = re.compile("[\udc80-\udcff]")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
#: Labels browsers decode as another encoding (WHATWG Encoding Standard).
_BROWSER_LABELS = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "iso8859-1": "cp1252",
                   "us-ascii": "cp1252", "ascii": "cp1252", "iso-8859-9": "cp1254", "gb2312": "gb18030",
                   "gbk": "gb18030", "x-sjis": "shift_jis"}

#: The legacy charsets a page without a declaration may be in (charset-normalizer picks among them only:
#: over every codec it takes short German text for Urdu, cp1006).
GUESSED = ["cp1252", "cp1250", "cp1251", "iso8859_2", "koi8_r", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
           "cp874", "shift_jis", "euc_jp", "gb18030", "big5", "euc_kr"]


@dataclass(frozen=True)
class Decoded:
    text: str
    charset: str  # Python's name of the codec used
    invalid_bytes: int  # bytes replaced by U+FFFD


def codec_of(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None when there is no such codec."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _BROWSER_LABELS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a ``Content-Type`` value."""
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset":
            return value.strip()
    return None


def meta_charset(payload: bytes) -> str | None:
    match = _META.search(payload[:META_WINDOW])
    return match.group(1).decode("ascii") if match else None


def choose(payload: bytes, content_type: str | None) -> tuple[str, int]:
    """The codec to decode ``payload`` with, and how many leading bytes (a byte-order mark) to skip."""
    for bom, name in _BOMS:
        if payload.startswith(bom):
            return name, len(bom)
    for label in (header_charset(content_type), meta_charset(payload)):
        name = codec_of(label)
        if name:
            return name, 0
    try:
        payload.decode("utf-8")
        return "utf-8", 0
    except UnicodeDecodeError:
        pass
    guessed = _guess(payload)
    return guessed or "cp1252", 0


def _guess(payload: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with the web extra
        return None
    best = from_bytes(payload[: 1 << 16], cp_isolation=GUESSED).best()
    return codec_of(best.encoding) if best is not None else None


def decode_html(payload: bytes, content_type: str | None = None) -> Decoded:
    """Decode a page; invalid bytes become U+FFFD and are counted, nothing raises."""
    name, skip = choose(payload, content_type)
    data = payload[skip:] if skip else payload
    try:
        return Decoded(data.decode(name), name, 0)
    except UnicodeDecodeError:
        pass
    try:
        escaped = data.decode(name, "surrogateescape")  # each invalid byte becomes one of U+DC80..U+DCFF
    except UnicodeDecodeError:  # codecs that cannot escape ASCII bytes (UTF-16): count the replacements
        text = data.decode(name, "replace")
        return Decoded(text, name, max(1, text.count("\ufffd")))
    text, count = _ESCAPED.subn("\ufffd", escaped)
    return Decoded(text, name, count)
