"""Sentence spans for sentence-level scoring: removing a sentence leaves the rest of the text as it was."""

from __future__ import annotations

import re

# A sentence ends at . ! ? or an ellipsis (possibly followed by closing quotes or brackets) before whitespace,
# at a full-width 。！？ (no space follows those), or at a line break. The whitespace after it belongs to it.
_CLOSERS = "[\"'\u201d\u2019)\\]]*"
# Where a sentence ends: the end of its trailing whitespace.
_END = re.compile(rf"[.!?\u2026]+{_CLOSERS}\s+|[\u3002\uff01\uff1f]+{_CLOSERS}\s*|\n\s*")


def sentence_spans(text: str) -> list[str]:
    """``text`` cut into sentences that concatenate back to exactly ``text``."""
    spans = []
    start = 0
    for match in _END.finditer(text):
        end = match.end()
        if end > start:
            spans.append(text[start:end])
            start = end
    if start < len(text):
        spans.append(text[start:])
    return spans
