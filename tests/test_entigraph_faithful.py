"""``profile: faithful`` runs EntiGraph as its authors' code does.

Expected values come from the reference (ZitongYang/Synthetic_Continued_Pretraining):
``data/entigraph.py`` sends the whole article in every call (``### Document Content:\\n{content}``, the
QuALITY content beginning with its title, ``tasks/quality.py``), lists the entities as ``### Entities:\\n- a\\n- b``,
keeps every entity the model names, writes every pair ``i < j`` in order before the (shuffled) triples;
``inference/devapi.py`` samples at temperature 1.0 without an output cap; ``utils/prompt_utils.py`` asks for
the article rephrased once per entity, then the interaction, under headers
``### Discussion of <title> in relation to <entity>``.
"""

import json
from itertools import combinations

import pytest

from curate.entigraph.generator import EntiGraphGenerator
from curate.entigraph.params import EntiGraphParams
from curate.entigraph.plan import document_title
from curate.lm.base import LM, Generation

TITLE = "The Analytical Engine"
BODY = " ".join(f"Sentence {i} tells how Ada Lovelace and Charles Babbage built the engine in London." for i in range(300))
ARTICLE = f"{TITLE}\n{BODY}"  # about 4,200 words: far past the small profile's 1,024 tokens
# "scientific collaboration" and "the limits of machines" are concepts: not verbatim in the article
ENTITIES = ["Ada Lovelace", "Charles Babbage", "London", "scientific collaboration", "the limits of machines"]


class ReferenceShapedLM(LM):
    """Extraction: the entities above. Relations: an answer shaped like the reference's (the article rephrased
    once per entity, then the interaction), one token per word, cut at ``max_tokens``."""

    backend = "scripted"
    constraint_kinds = frozenset()

    def __init__(self, rephrase_words: int = 600):
        self.calls: list = []
        self.rephrase_words = rephrase_words

    def generate(self, prompts_, params=None, constraint=None):
        out = []
        for prompt in prompts_:
            self.calls.append((prompt, params))
            user = prompt[-1]["content"]
            if "### Entities:" not in user and "Entities:\n-" not in user:
                answer = json.dumps({"summary": "Lovelace and Babbage built an engine.", "entities": ENTITIES})
                out.append(Generation(answer, len(answer.split()), "stop"))
                continue
            count = user.rsplit("Entities:\n", 1)[1].count("- ")
            words = ["word"] * (count * self.rephrase_words + 200)  # rephrasings plus the interaction
            n = min(len(words), params.max_tokens)
            out.append(Generation(" ".join(words[:n]) + ".", n, "length" if n < len(words) else "stop"))
        return out

    def choice_logprobs(self, prompts_, choices):
        raise NotImplementedError

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


def run(lm, **params):
    p = EntiGraphParams(**params)
    generator = EntiGraphGenerator(p, lm)
    return generator.run(["d"], [ARTICLE], [None], [document_title(ARTICLE, None)])[0], p


def test_faithful_shows_the_whole_document_and_its_title_in_every_call():
    lm = ReferenceShapedLM()
    result, p = run(lm, profile="faithful", context_tokens=32768)
    assert result.status == "done"
    for prompt, _ in lm.calls:
        assert prompt[-1]["content"].startswith(f"### Document Content:\n{ARTICLE}")  # whole, title first
    relation_system = lm.calls[1][0][0]["content"]
    first, second = lm.calls[1][0][-1]["content"].rsplit("### Entities:\n", 1)[1].split("\n")
    assert f"### Discussion of {TITLE} in relation to {first[2:]}" in relation_system
    assert f"### Discussion of {TITLE} in relation to {second[2:]}" in relation_system
    small = ReferenceShapedLM()
    run(small, max_pairs=1, max_triples=0)
    assert len(small.calls[0][0][-1]["content"].split()) < 1100  # the small profile: cut to 1,024 tokens


def test_faithful_keeps_concept_entities_and_writes_every_pair_in_order_then_triples():
    lm = ReferenceShapedLM()
    result, p = run(lm, profile="faithful", context_tokens=32768)
    assert result.entities == ENTITIES  # nothing filtered: the reference uses every entity
    kinds = [row.kind for row in result.rows]
    pairs = [row.entities for row in result.rows if row.kind == "pair"]
    assert pairs == [(ENTITIES[i], ENTITIES[j]) for i, j in combinations(range(5), 2)]  # i < j, in order
    assert kinds == ["summary"] + ["pair"] * 10 + ["triple"] * 10  # every pair before any triple
    assert {params.temperature for _, params in lm.calls} == {1.0}
    small, _ = run(ReferenceShapedLM())
    assert "scientific collaboration" not in small.entities and "Ada Lovelace" in small.entities


def test_faithful_relation_texts_hold_the_reference_answer():
    """Two rephrasings of a 600-word article plus the interaction: the small profile's 320 tokens cut it."""
    faithful, _ = run(ReferenceShapedLM(), profile="faithful", context_tokens=32768, max_triples=0)
    assert all(len(row.text.split()) == 2 * 600 + 200 for row in faithful.rows if row.kind == "pair")
    small, _ = run(ReferenceShapedLM(), max_triples=0)
    assert all(len(row.text.split()) <= 320 for row in small.rows if row.kind == "pair")


def test_faithful_settings_given_in_the_config_win():
    p = EntiGraphParams(profile="faithful", context_tokens=8192, pair={"max_tokens": 1500}, require_in_text=True)
    assert p.pair.max_tokens == 1500 and p.pair.temperature == 1.0 and p.require_in_text


def test_faithful_needs_to_know_the_context():
    with pytest.raises(ValueError, match="set context_tokens"):
        EntiGraphParams(profile="faithful", lm={"backend": "openai", "model": "Qwen/Qwen2.5-7B-Instruct"})
    with pytest.raises(ValueError, match="raise context_tokens"):
        run(ReferenceShapedLM(), profile="faithful", context_tokens=2048)  # 3,072-token triples do not fit


def test_title_comes_from_meta_else_the_first_line():
    assert document_title("\n  First  line \nbody", None) == "First line"
    assert document_title("body", json.dumps({"title": "Meta title"})) == "Meta title"
    assert document_title("body", "not json") == "body"


def test_the_recipe_does_not_near_dedup_the_rephrasings():
    """The reference trains on every rephrasing: after entigraph only verbatim repeats may go."""
    from curate.config import load_pipeline
    from tests.conftest import REPO

    names = [spec.name for spec in load_pipeline(str(REPO / "pipelines" / "entigraph.yaml")).stages]
    after = names[names.index("entigraph") + 1:]
    assert "minhash_dedup" not in after and "exact_dedup" in after
