"""Reading the shared evaluation corpora (JSONL compressed with zstd)."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
SAMPLE = REPO / "data" / "sample"


def default_corpora() -> Path:
    """``CURATE_CORPORA`` if set, else ``../shared/corpora`` beside the checkout, else the bundled sample."""
    if os.environ.get("CURATE_CORPORA"):
        return Path(os.environ["CURATE_CORPORA"])
    return SHARED_CORPORA if SHARED_CORPORA.is_dir() else SAMPLE


DEFAULT_CORPORA = default_corpora()


def corpus_path(corpora: Path, name: str) -> Path | None:
    """``<name>.jsonl.zst`` (or ``<name>.parquet``, as in the sample) in ``corpora``; None when absent."""
    for suffix in (".jsonl.zst", ".parquet"):
        path = Path(corpora) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def require_corpora(corpora: Path, names: Sequence[str], smoke: bool) -> None:
    """Stop unless every named source is in ``corpora``: a smoke run skips (exit 0), a full run fails."""
    lacking = [name for name in names if corpus_path(corpora, name) is None]
    if not lacking:
        return
    message = (f"needs {', '.join(lacking)} in {corpora} (the evaluation corpora: ../shared/corpora beside the "
               f"checkout, or set CURATE_CORPORA)")
    if smoke:
        print(f"SKIP {Path(sys.argv[0]).stem}: {message}")
        sys.exit(0)
    raise SystemExit(f"error: {message}")


def sample_table(path: Path = SAMPLE) -> pa.Table:
    """Every document under ``path`` (the bundled sample by default), as curate's reader hands them to stages."""
    import pyarrow as pa

    from curate.io.reader import ReaderConfig, read_file, resolve_inputs

    files = resolve_inputs(str(path))
    return pa.concat_tables(t for i, f in enumerate(files) for t in read_file(i, f, ReaderConfig()))


def read_corpus(corpora: Path, name: str, limit: int | None = None) -> Iterator[dict]:
    """Records of ``<corpora>/<name>.jsonl.zst`` (or ``.parquet``), one dict per record."""
    import zstandard

    path = corpus_path(corpora, name)
    if path is None:
        raise FileNotFoundError(f"no {name}.jsonl.zst or {name}.parquet in {corpora}")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()[:limit]
        return
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
