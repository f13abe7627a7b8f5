"""The key-value metadata of a GGUF file (where its tokenizer lives), read straight from the header.

The ``gguf`` package's reader builds a memory-mapped NumPy view per array
element, which takes seconds for a 49k-token vocabulary; this reads the same
section (format version 2 and later, little-endian) in tens of milliseconds and
stops before the tensors.
"""

from __future__ import annotations

import mmap
import struct
from typing import Any

import numpy as np

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_NUMPY = {0: "<u1", 1: "<i1", 2: "<u2", 3: "<i2", 4: "<u4", 5: "<i4", 6: "<f4", 7: "<u1", 10: "<u8", 11: "<i8",
          12: "<f8"}
STRING, ARRAY = 8, 9


class GGUFError(ValueError):
    """Not a GGUF file this reader understands."""


def read_metadata(path: str) -> dict[str, Any]:
    """Every metadata key of the GGUF file: scalars as Python values, numeric arrays as NumPy, strings as str."""
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[:4] != b"GGUF":
            raise GGUFError(f"{path} is not a GGUF file")
        version, _tensors, count = struct.unpack_from("<IQQ", data, 4)
        if version < 2:
            raise GGUFError(f"{path}: GGUF version {version} is too old (2 or later is read)")
        offset = 24
        metadata: dict[str, Any] = {}
        for _ in range(count):
            key, offset = _string(data, offset)
            (kind,), offset = struct.unpack_from("<I", data, offset), offset + 4
            metadata[key], offset = _value(data, offset, kind)
        return metadata


def _string(data: Any, offset: int) -> tuple[str, int]:
    (length,) = struct.unpack_from("<Q", data, offset)
    start = offset + 8
    return data[start:start + length].decode("utf-8"), start + length


def _value(data: Any, offset: int, kind: int) -> tuple[Any, int]:
    if kind == STRING:
        return _string(data, offset)
    if kind in _SCALARS:
        fmt = _SCALARS[kind]
        return struct.unpack_from(fmt, data, offset)[0], offset + struct.calcsize(fmt)
    if kind != ARRAY:
        raise GGUFError(f"unknown GGUF value type {kind}")
    inner, length = struct.unpack_from("<IQ", data, offset)
    offset += 12
    if inner in _NUMPY:
        dtype = np.dtype(_NUMPY[inner])
        values = np.frombuffer(data, dtype=dtype, count=length, offset=offset).copy()
        return values, offset + length * dtype.itemsize
    items = []
    for _ in range(length):
        item, offset = _value(data, offset, inner)
        items.append(item)
    return items, offset
