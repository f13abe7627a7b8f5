"""Prompts of the three call kinds: extraction (summary + entities), pair and triple relations.

Written for instruction-tuned chat models, short enough for a 135M model to
follow: one instruction, the article, the entities. The extraction prompt asks
for JSON with ``summary`` and ``entities``; where the backend can, decoding is
also constrained to :func:`extraction_schema`.
"""

from __future__ import annotations

from typing import Any

from curate.lm import Prompt

EXTRACT_SYSTEM = (
    "You read an article and answer in JSON with two keys: \"summary\", a short summary of the article, and "
    "\"entities\", a list of as many of the important names in it as you can find: people, places, "
    "organisations, objects and concepts, each written as it appears in the article."
)

RELATION_SYSTEM = (
    "You write a short, clear text about an article for a reader who has not seen it. Only use facts from the "
    "article. Write plain prose, no lists."
)

PAIR_INSTRUCTION = (
    "Entities:\n- {a}\n- {b}\n\n"
    "First explain what the article says about {a}, then what it says about {b}, and finally how {a} and {b} "
    "are related in the article."
)

TRIPLE_INSTRUCTION = (
    "Entities:\n- {a}\n- {b}\n- {c}\n\n"
    "Explain how {a}, {b} and {c} are related to each other in the article, saying what the article tells "
    "about each of them."
)


def extraction_schema(max_entities: int) -> dict[str, Any]:
    """The JSON schema of the extraction answer (``max_entities`` is a soft cap: cleaning enforces it)."""
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "entities": {"type": "array", "items": {"type": "string"}, "maxItems": max(1, 2 * max_entities)},
        },
        "required": ["summary", "entities"],
    }


def extraction_prompt(document: str) -> Prompt:
    return [{"role": "system", "content": EXTRACT_SYSTEM}, {"role": "user", "content": f"Article:\n{document}"}]


def relation_prompt(document: str, entities: tuple[str, ...]) -> Prompt:
    """The pair (two entities) or triple (three entities) prompt."""
    if len(entities) == 2:
        instruction = PAIR_INSTRUCTION.format(a=entities[0], b=entities[1])
    elif len(entities) == 3:
        instruction = TRIPLE_INSTRUCTION.format(a=entities[0], b=entities[1], c=entities[2])
    else:
        raise ValueError(f"a relation prompt takes two or three entities, not {len(entities)}")
    return [{"role": "system", "content": RELATION_SYSTEM},
            {"role": "user", "content": f"Article:\n{document}\n\n{instruction}"}]
