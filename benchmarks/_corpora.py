"""Reading the shared evaluation corpora (JSONL compressed with zstd)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPORA = REPO.parent / "shared" / "corpora"


def read_corpus(corpora: Path, name: str, limit: int | None = None) -> Iterator[dict]:
    """Records of ``<corpora>/<name>.jsonl.zst``, one dict per line."""
    import zstandard

    path = Path(corpora) / f"{name}.jsonl.zst"
    with open(path, "rb") as raw:
        reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(raw), encoding="utf-8")
        for i, line in enumerate(reader):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def text_chunks(corpora: Path, names: list[str], size: int, count: int) -> list[str]:
    """``count`` documents of about ``size`` characters cut (at spaces) from real text."""
    out: list[str] = []
    for name in names:
        for record in read_corpus(corpora, name):
            text = " ".join((record.get("text") or "").split())
            start = 0
            while start + size <= len(text):
                end = text.rfind(" ", start + size // 2, start + size) if " " in text[start:start + size] else -1
                end = end if end > start else start + size
                out.append(text[start:end])
                start = end + 1
                if len(out) >= count:
                    return out
    if not out:
        raise SystemExit(f"no text found in {corpora}")
    while len(out) < count:  # repeat if the corpora are short
        out.extend(out[: count - len(out)])
    return out
