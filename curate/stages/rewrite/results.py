"""What the rewrite makes of one document, and the columns that record it on every row."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

#: ``rewrite_status`` of a row outside the deterministic subset (``max_documents``)
STATUS_UNSELECTED = "unselected"

OUTPUT_FIELDS = [
    pa.field("rewritten", pa.bool_()),
    pa.field("rewrite_status", pa.string()),
    pa.field("rewrite_doc_program", pa.string()),
    pa.field("rewrite_programs", pa.list_(pa.string())),
    pa.field("rewrite_parse_errors", pa.int32()),
    pa.field("rewrite_exec_errors", pa.int32()),
    pa.field("rewrite_error_log", pa.list_(pa.string())),
    pa.field("rewrite_tokens_in", pa.int64()),
    pa.field("rewrite_tokens_out", pa.int64()),
    pa.field("rewrite_generated_tokens", pa.int64()),
    pa.field("rewrite_backend_error", pa.string()),
    pa.field("rewrite_ignored_calls", pa.int32()),
]


@dataclass
class DocResult:
    status: str
    text: str
    doc_program: str | None = None
    programs: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    exec_errors: list[str] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    generated: int = 0
    backend_error: str | None = None
    words_left: int | None = None
    ignored: int = 0


def backend_fallback(text: str, exc: BaseException) -> DocResult:
    """The result for a document whose model calls failed: the original text, the error recorded."""
    message = f"{type(exc).__name__}: {exc}"[:500]
    return DocResult("fallback", text, backend_error=message, exec_errors=[f"backend: {message}"])
