"""Text cut to a model's token budget, for the model's eyes only: the document itself is never cut."""

from __future__ import annotations

from curate.lm import LM


def cap(text: str, tokens: int, budget: int, lm: LM | None) -> str:
    """``text`` (``tokens`` long) cut to at most ``budget`` tokens of ``lm``'s tokenizer (whitespace words
    without a model)."""
    while tokens > budget and text:
        text = text[:max(0, int(len(text) * budget / tokens * 0.9) - 1)]
        tokens = lm.count_tokens([text])[0] if text and lm is not None else len(text.split())
    return text


def shown_lines(lines: list[str], counts: list[int], budget: int, lm: LM | None) -> list[str]:
    """Lines as a chunk prompt shows them: a line longer than the whole budget is cut to fit."""
    return [cap(line, count, budget, lm) if count > budget else line for line, count in zip(lines, counts)]


def doc_text(lines: list[str], counts: list[int], budget: int, lm: LM | None) -> str:
    """The document as the document pass shows it: whole lines up to ``budget`` tokens, a longer first
    line cut."""
    used, keep = 0, 0
    for count in counts:
        if used + count > budget:
            break
        used += count
        keep += 1
    if keep:
        return "\n".join(lines[:keep])
    return cap(lines[0], counts[0], budget, lm) if lines else ""
