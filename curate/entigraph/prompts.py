"""Prompts of the three call kinds: extraction (summary + entities), pair and triple relations.

Two sets. The default (``profile: small``) is written for instruction-tuned
chat models, short enough for a 135M model to follow: one instruction, the
article, the entities. The ``faithful`` set follows the reference's prompts
(ZitongYang/Synthetic_Continued_Pretraining, ``utils/prompt_utils.py``, in our
words): summarise, then list every significant entity including abstract
concepts; for a pair (triple), rephrase the article once per entity, discuss
their interaction and ask questions about it, under headers that name the
article's title. The extraction prompt asks for JSON with ``summary`` and
``entities``; where the backend can, decoding is also constrained to
:func:`extraction_schema`.
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


# ------------------------------------------------------------------ faithful: the reference's structure

FAITHFUL_EXTRACT_SYSTEM = """You analyse an article that the user gives you, in two steps:
1. Summary: summarise the whole article briefly, covering its main points and themes.
2. Entities: list every significant noun or entity of the article, including but not limited to:
    * People: every person mentioned, by the name or reference the article uses.
    * Places: specific locations as well as abstract spaces that matter to the content.
    * Objects: every concrete object the article refers to.
    * Concepts: every significant abstract idea or theme central to the article's discussion.

List as many entities as you can. Answer in JSON, with a brief but complete summary and a detailed, accurate list of entities, in this format:

{
  "summary": "<a concise summary of the article>",
  "entities": ["entity1", "entity2", ...]
}"""

FAITHFUL_RELATION_SYSTEM = """You analyse an article that the user gives you, together with {count} of its entities. Your answer has three parts:
1. Rephrasing: rephrase the content of the article {times}, each time centred on one entity, in the order given.
2. Interaction: discuss how the {count} entities interact within the article.
3. Questions: write questions, with detailed answers that refer to the article, that centre on the {count} entities and call for deep, critical thought about how their interaction shapes the article.

Keep the parts clearly apart, and give every part enough context, naming the article's title, so that each part can be understood on its own. Follow this format:

{sections}"""

_TIMES = {2: "twice", 3: "three times"}
_COUNT = {2: "two", 3: "three"}


def _joined(names: tuple[str, ...]) -> str:
    return " and ".join(names) if len(names) == 2 else f"{', '.join(names[:-1])} and {names[-1]}"


def faithful_relation_system(entities: tuple[str, ...], title: str) -> str:
    """The reference's relation instructions, with the title and the entities written into its headers."""
    sections = [f"### Discussion of {title} in relation to {name}\n<the article rephrased, centred on {name}>"
                for name in entities]
    sections.append(f"### Discussion of Interaction between {_joined(entities)} in context of {title}\n"
                    f"<how the {_COUNT[len(entities)]} entities interact within the article>")
    sections.append(f"### Questions and answers about {_joined(entities)} in context of {title}\n"
                    "Question: <a question about the entities>\nAnswer: <a detailed answer that refers to the "
                    "article>\n\n...")
    return FAITHFUL_RELATION_SYSTEM.format(count=_COUNT[len(entities)], times=_TIMES[len(entities)],
                                           sections="\n\n".join(sections))


def with_title(document: str, title: str | None) -> str:
    """The document as prompts show it: headed by its title unless it already begins with it."""
    if not title or document.lstrip().startswith(title):
        return document
    return f"Title: {title}\n\n{document}"


def extraction_prompt(document: str, title: str | None = None, faithful: bool = False) -> Prompt:
    document = with_title(document, title)
    if faithful:
        return [{"role": "system", "content": FAITHFUL_EXTRACT_SYSTEM},
                {"role": "user", "content": f"### Document Content:\n{document}"}]
    return [{"role": "system", "content": EXTRACT_SYSTEM},
            {"role": "user", "content": f"Article:\n{EXAMPLE_ARTICLE}"},
            {"role": "assistant", "content": EXAMPLE_ANSWER},
            {"role": "user", "content": f"Article:\n{document}"}]


def relation_prompt(document: str, entities: tuple[str, ...], title: str | None = None,
                    faithful: bool = False) -> Prompt:
    """The pair (two entities) or triple (three entities) prompt."""
    if len(entities) not in (2, 3):
        raise ValueError(f"a relation prompt takes two or three entities, not {len(entities)}")
    document = with_title(document, title)
    if faithful:
        listed = "\n".join(f"- {name}" for name in entities)
        return [{"role": "system", "content": faithful_relation_system(entities, title or "the article")},
                {"role": "user", "content": f"### Document Content:\n{document}\n### Entities:\n{listed}"}]
    if len(entities) == 2:
        instruction = PAIR_INSTRUCTION.format(a=entities[0], b=entities[1])
    else:
        instruction = TRIPLE_INSTRUCTION.format(a=entities[0], b=entities[1], c=entities[2])
    return [{"role": "system", "content": RELATION_SYSTEM},
            {"role": "user", "content": f"Article:\n{document}\n\n{instruction}"}]
