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
    "You read an article and answer in JSON with two keys: \"entities\", a list of as many of the "
    "important names in it as you can find: people, places, organisations, objects and concepts, each written "
    "as it appears in the article; and \"summary\", a short summary of the article in your own words."
)

# One worked example: small models copy a demonstrated answer far better than they follow a description.
EXAMPLE_ARTICLE = (
    "The Rhine Bridge in Basel reopened on Monday after two years of repairs. Mayor Anna Keller said the city "
    "paid 40 million francs, and Swiss Federal Railways will run trains over it again from June."
)
EXAMPLE_ANSWER = (
    '{"entities": ["Rhine Bridge", "Basel", "Anna Keller", "Swiss Federal Railways", "June"], "summary": "Basel\'s '
    'Rhine Bridge reopened after two years of repairs paid for by the city; trains return in June."}'
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


def extraction_schema(max_entities: int, min_entities: int = 0) -> dict[str, Any]:
    """The JSON schema of the extraction answer.

    ``entities`` comes first so the model lists names while the article is
    fresh (a small model's summary tends to copy the first sentence, then it
    stops). ``min_entities`` makes constrained decoding go on listing; names
    that are not in the article are removed by cleaning. ``max_entities`` is a
    soft cap: cleaning enforces it.
    """
    entities: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "maxItems": max(1, 2 * max_entities)}
    if min_entities:
        entities["minItems"] = min_entities
    return {
        "type": "object",
        "properties": {"entities": entities, "summary": {"type": "string"}},
        "required": ["entities", "summary"],
    }


def extraction_prompt(document: str) -> Prompt:
    return [{"role": "system", "content": EXTRACT_SYSTEM},
            {"role": "user", "content": f"Article:\n{EXAMPLE_ARTICLE}"},
            {"role": "assistant", "content": EXAMPLE_ANSWER},
            {"role": "user", "content": f"Article:\n{document}"}]


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
