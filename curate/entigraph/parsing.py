"""Reading the extraction answer: strict JSON first, then repaired JSON; entity cleaning.

Small models break JSON in predictable ways (unclosed strings or brackets when
the token budget runs out, single quotes, trailing commas, prose around the
object); ``json_repair`` fixes those. An answer that is still not an object
with an ``entities`` list is a failed call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import json_repair

_SPACES = re.compile(r"\s+")
# list markers and quotes before, punctuation and quotes after
_EDGE = re.compile(r"^[\s\"'`]*(?:(?:[-*\u2022]|\d+[.)])\s+)?[\s\"'`]*|[\s.,;:\"'`]+$")


@dataclass
class Extraction:
    """A parsed extraction answer."""

    summary: str
    entities: list[str] = field(default_factory=list)
    repaired: bool = False


class ExtractionError(ValueError):
    """The answer cannot be read as ``{"summary": ..., "entities": [...]}``."""


def parse_extraction(text: str) -> Extraction:
    """The summary and raw entity strings of an answer; raises :class:`ExtractionError`."""
    repaired = False
    try:
        value: Any = json.loads(text)
    except ValueError:
        value = _repair(text)
        repaired = True
    if not isinstance(value, dict):
        raise ExtractionError(f"expected a JSON object, got {type(value).__name__}: {_clip(text)}")
    entities = value.get("entities")
    if isinstance(entities, str):
        entities = [entities]
    if not isinstance(entities, list):
        raise ExtractionError(f"no \"entities\" list in the answer: {_clip(text)}")
    summary = value.get("summary")
    names = [_entity_text(e) for e in entities]
    return Extraction(summary=summary.strip() if isinstance(summary, str) else "",
                      entities=[n for n in names if n], repaired=repaired)


def _repair(text: str) -> Any:
    start = text.find("{")
    if start < 0:
        raise ExtractionError(f"no JSON object in the answer: {_clip(text)}")
    try:
        value = json_repair.loads(text[start:])
    except Exception as exc:  # json_repair raises a variety of errors on hopeless input
        raise ExtractionError(f"unrepairable JSON ({exc}): {_clip(text)}") from None
    if isinstance(value, list) and value and isinstance(value[0], dict):
        value = value[0]  # an object followed by prose is read as a list of objects
    return value


def _entity_text(entity: Any) -> str:
    if isinstance(entity, str):
        return entity
    if isinstance(entity, dict):  # {"name": ..., "type": ...}
        for key in ("name", "entity", "text", "value"):
            if isinstance(entity.get(key), str):
                return entity[key]
    return ""


def clean_entities(names: list[str], *, max_entities: int, max_chars: int, document: str | None = None) -> list[str]:
    """Trimmed, whitespace-collapsed, length-capped, de-duplicated (case-insensitively, first spelling kept).

    With ``document``, only entities that occur in it (case-insensitively) are
    kept: small models name things the article never mentions. At most
    ``max_entities`` are returned, in the model's order.
    """
    haystack = _SPACES.sub(" ", document).casefold() if document is not None else None
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        name = _EDGE.sub("", _SPACES.sub(" ", name)).strip()
        if not name or len(name) > max_chars:
            continue
        key = name.casefold()
        if key in seen or (haystack is not None and key not in haystack):
            continue
        seen.add(key)
        out.append(name)
        if len(out) == max_entities:
            break
    return out


def _clip(text: str, limit: int = 160) -> str:
    text = text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."
