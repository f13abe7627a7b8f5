"""The entigraph stage with a scripted model: prompts, JSON repair, retries, sampling, budget, ids, statistics."""

import json
from itertools import combinations

import pytest

from curate.entigraph import prompts
from curate.entigraph.overlap import SourceNgrams, overlap_shares
from curate.entigraph.params import EntiGraphParams
from curate.entigraph.parsing import ExtractionError, clean_entities, parse_extraction
from curate.entigraph.plan import budget_share, row_id, sample_tuples
from curate.lm.base import LM, Generation
from curate.stage import DROP_DETAIL, DROP_REASON
from curate.stages.entigraph import EntiGraph
from curate.stages.subset import selection_key
from tests.conftest import documents

ARTICLE = ("Ada Lovelace worked with Charles Babbage on the Analytical Engine in London. "
           "Babbage designed the engine; Lovelace wrote the first program for it, about Bernoulli numbers.")
NAMES = ["Ada Lovelace", "Charles Babbage", "Analytical Engine", "London", "Bernoulli numbers"]


class ScriptedLM(LM):
    """Extraction answers come from ``answers`` (cycled, or a function of the article); relation answers are
    ``words`` words long, cut at ``max_tokens`` (one token per word)."""

    backend = "scripted"

    def __init__(self, answers=None, words=40, constraint_kinds=("json_schema",)):
        self.answers = answers
        self.words = words
        self.constraint_kinds = frozenset(constraint_kinds)
        self.calls = []

    def generate(self, prompts_, params=None, constraint=None):
        out = []
        for prompt in prompts_:
            self.calls.append((prompt, params, constraint))
            user = prompt[-1]["content"]
            if prompt[0]["content"] == prompts.EXTRACT_SYSTEM:
                article = user.split("Article:\n", 1)[1]
                answer = self.answers(article) if callable(self.answers) else \
                    json.dumps({"summary": "A short summary.", "entities": NAMES})
                out.append(Generation(answer, len(answer.split())))
                continue
            entities = [line[2:] for line in user.split("Entities:\n", 1)[1].split("\n\n")[0].split("\n")]
            text = (" ".join(entities) + " are related. ") * self.words
            tokens = text.split()[:self.words]
            n = min(len(tokens), params.max_tokens)
            out.append(Generation(" ".join(tokens[:n]), n, "length" if n < len(tokens) else "stop"))
        return out

    def choice_logprobs(self, prompts_, choices):
        raise NotImplementedError

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]

    def kinds(self):
        return [("extract" if p[0]["content"] == prompts.EXTRACT_SYSTEM else "relation") for p, _, _ in self.calls]


def stage(lm, **params):
    s = EntiGraph(**params)
    s.setup = lambda: None
    from curate.entigraph.generator import EntiGraphGenerator

    s.generator = EntiGraphGenerator(s.params, lm)
    return s


# ------------------------------------------------------------------ prompts and parsing

def test_prompts_carry_the_article_and_the_entities():
    extract = prompts.extraction_prompt(ARTICLE)
    assert extract[0]["role"] == "system" and "JSON" in extract[0]["content"] and ARTICLE in extract[-1]["content"]
    assert [m["role"] for m in extract] == ["system", "user", "assistant", "user"]  # one worked example
    assert json.loads(extract[2]["content"])["entities"]
    pair = prompts.relation_prompt(ARTICLE, ("Ada Lovelace", "London"))[1]["content"]
    assert ARTICLE in pair and "- Ada Lovelace\n- London" in pair and "how Ada Lovelace and London" in pair
    triple = prompts.relation_prompt(ARTICLE, ("A", "B", "C"))[1]["content"]
    assert "- A\n- B\n- C" in triple
    with pytest.raises(ValueError):
        prompts.relation_prompt(ARTICLE, ("A",))
    schema = prompts.extraction_schema(5, 3)
    assert schema["required"] == ["entities", "summary"] and schema["properties"]["entities"]["maxItems"] == 10
    assert schema["properties"]["entities"]["minItems"] == 3 and "minItems" not in prompts.extraction_schema(5)["properties"]["entities"]


@pytest.mark.parametrize("answer,entities,repaired", [
    ('{"summary": "S", "entities": ["A", "B"]}', ["A", "B"], False),
    ('{"summary": "S", "entities": ["A", "B', ["A", "B"], True),                  # cut off by the token limit
    ("Sure! Here it is: {'summary': 'S', 'entities': ['A', 'B',]} Hope it helps", ["A", "B"], True),
    ('{"summary": "S", "entities": [{"name": "A", "type": "person"}, "B"]}', ["A", "B"], False),
    ('{"summary": "S", "entities": "A"}', ["A"], False),
])
def test_json_is_parsed_or_repaired(answer, entities, repaired):
    parsed = parse_extraction(answer)
    assert parsed.entities == entities and parsed.summary == "S" and parsed.repaired is repaired


@pytest.mark.parametrize("answer", ["no json here at all", '["A", "B"]', '{"summary": "only a summary"}', ""])
def test_answers_without_an_entity_list_are_errors(answer):
    with pytest.raises(ExtractionError):
        parse_extraction(answer)


def test_entities_are_cleaned():
    raw = ["  Ada   Lovelace ", "ada lovelace", "1. London", '"Babbage".', "x" * 70, "", "Paris", "London"]
    assert clean_entities(raw, max_entities=10, max_chars=60) == ["Ada Lovelace", "London", "Babbage", "Paris"]
    assert clean_entities(raw, max_entities=10, max_chars=60, document=ARTICLE) == ["Ada Lovelace", "London",
                                                                                      "Babbage"]
    assert clean_entities(raw, max_entities=2, max_chars=60) == ["Ada Lovelace", "London"]


# ------------------------------------------------------------------ sampling, budget, ids

def test_sampling_is_seeded_uniform_and_capped():
    first = sample_tuples(6, 2, 5, seed=1, doc_id="d")
    assert first == sample_tuples(6, 2, 5, seed=1, doc_id="d") and len(set(first)) == 5
    assert all(i < j for i, j in first) and set(first) <= set(combinations(range(6), 2))
    assert first != sample_tuples(6, 2, 5, seed=2, doc_id="d") or first != sample_tuples(6, 2, 5, seed=1, doc_id="e")
    assert sorted(sample_tuples(4, 3, 100, seed=0, doc_id="d")) == list(combinations(range(4), 3))
    assert sample_tuples(2, 3, 5, 0, "d") == [] and sample_tuples(5, 2, 0, 0, "d") == []
    seen = {t for s in range(300) for t in sample_tuples(6, 2, 1, seed=s, doc_id="d")}
    assert len(seen) == 15  # every pair can be drawn


def test_budget_shares_never_exceed_the_budget():
    words = [10, 33, 57, 0]
    shares = [budget_share(1000, w, sum(words)) for w in words]
    assert sum(shares) <= 1000 and shares[3] == 0 and shares[2] > shares[1] > shares[0]
    assert budget_share(None, 10, 100) is None and budget_share(50, 10, 0) == 0


def test_ids_derive_from_source_kind_entities_and_model():
    a = row_id("doc", "pair", ("A", "B"), "m")
    assert a == row_id("doc", "pair", ("A", "B"), "m") and a.startswith("doc#entigraph-pair-")
    assert len({a, row_id("doc", "pair", ("B", "A"), "m"), row_id("doc", "pair", ("A", "B"), "other"),
                row_id("doc2", "pair", ("A", "B"), "m"), row_id("doc", "triple", ("A", "B"), "m")}) == 5


# ------------------------------------------------------------------ the stage

def test_rows_provenance_and_statistics():
    lm = ScriptedLM()
    result = stage(lm, max_pairs=3, max_triples=2, emit="both").process_batch(documents([ARTICLE]))
    created = result.created.to_pylist()
    assert [r["kind"] for r in created] == ["summary", "pair", "pair", "pair", "triple", "triple"]
    assert all(r["parent_id"] == r["source_id"] == "d0" and r["model"] == "smollm2-135m-instruct" for r in created)
    assert created[0]["text"] == "A short summary." and created[0]["entities"] == NAMES
    assert all(len(r["entities"]) == {"pair": 2, "triple": 3}[r["kind"]] for r in created[1:])
    assert all(r["entities"][0] in r["text"] for r in created[1:])
    assert len({r["id"] for r in created}) == 6
    source = result.batch.to_pylist()[0]
    assert source[DROP_REASON] is None and source["entigraph_status"] == "done" and source["entigraph_rows"] == 6
    assert lm.kinds() == ["extract"] + ["relation"] * 5 and lm.calls[0][2].kind == "json_schema"
    stats = EntiGraph.summarize(result.stats)
    assert stats["calls"] == {"extract": 1, "pair": 3, "triple": 2} and stats["extract_first_try_share"] == 1.0
    assert stats["entities_per_document"] == 5 and stats["pair_coverage"] == 0.3 and stats["triple_coverage"] == 0.2
    assert stats["synthetic_tokens"] == sum(r["synthetic_tokens"] for r in created)
    assert stats["synthetic_per_source_token"] == round(stats["synthetic_tokens"] / len(ARTICLE.split()), 4)
    assert 0 < stats["ngram_overlap"]["2"] < 1 and stats["ngram_overlap"]["16"] == 0


def test_rerun_makes_the_same_rows_and_batches_do_not_matter():
    texts = [ARTICLE, ARTICLE.replace("London", "Paris"), ARTICLE + " It ran on steam."]
    whole = stage(ScriptedLM(), token_budget=400).process_batch(documents(texts)).created
    again = stage(ScriptedLM(), token_budget=400).process_batch(documents(texts)).created
    assert whole.equals(again)
    s = stage(ScriptedLM(), token_budget=400)
    s.total_words = sum(len(t.split()) for t in texts)  # what prepare() counts over the whole input
    pieces = [s.process_batch(documents([t], ids=[f"d{i}"])).created for i, t in enumerate(texts)]
    assert [r["id"] for p in pieces for r in p.to_pylist()] == whole.column("id").to_pylist()


def test_budget_caps_synthetic_tokens_and_stops_calls():
    lm = ScriptedLM(words=60)
    texts = [ARTICLE, ARTICLE + " More words about the engine and its cards."]
    s = stage(lm, token_budget=300, max_pairs=10, max_triples=10, min_call_tokens=20)
    out = s.process_batch(documents(texts))
    stats = EntiGraph.summarize(out.stats)
    assert stats["synthetic_tokens"] <= 300 and stats["budget_stopped"] == 2
    per_doc = {}
    for r in out.created.to_pylist():
        per_doc[r["parent_id"]] = per_doc.get(r["parent_id"], 0) + r["synthetic_tokens"]
    total = sum(len(t.split()) for t in texts)
    for i, t in enumerate(texts):
        assert per_doc[f"d{i}"] <= budget_share(300, len(t.split()), total)
    assert all(params.max_tokens >= 20 for _, params, _ in lm.calls)
    tiny = stage(ScriptedLM(), token_budget=10).process_batch(documents(texts))
    assert tiny.created.num_rows == 0 and set(tiny.batch.column("entigraph_status").to_pylist()) == {"no_budget"}


def test_invalid_json_every_time_is_bounded_and_recorded():
    lm = ScriptedLM(answers=lambda article: "I cannot do that.")
    out = stage(lm, retries=3).process_batch(documents([ARTICLE]))
    assert out.created.num_rows == 0 and len(lm.calls) == 4
    row = out.batch.to_pylist()[0]
    assert row["entigraph_status"] == "invalid_json" and len(row["entigraph_errors"]) == 4
    assert row[DROP_REASON] == "entigraph_no_output" and row[DROP_DETAIL].startswith("invalid_json: extract attempt 4")
    temperatures = [params.temperature for _, params, _ in lm.calls]
    assert temperatures == [0.0, 0.7, 0.7, 0.7] and len({params.seed for _, params, _ in lm.calls}) == 4
    stats = EntiGraph.summarize(out.stats)
    assert stats["calls_failed"]["extract"] == 4 and stats["extract_first_try_share"] == 0.0


def test_no_entities_yields_no_rows_and_a_reason():
    invented = '{"summary": "Nothing.", "entities": ["Napoleon", "Rome"]}'
    answers = iter(['{"summary": "x", "entities": []}', invented])
    lm = ScriptedLM(answers=lambda article: next(answers) if "Ada" in article else '{"summary": "", "entities": ["Ada"]}')
    out = stage(lm, retries=1, emit="both").process_batch(documents([ARTICLE, "", "hmm " * 5]))
    rows = out.batch.to_pylist()
    assert [r["entigraph_status"] for r in rows] == ["no_entities", "empty", "no_entities"]
    assert out.created.num_rows == 0 and all(r[DROP_REASON] is None for r in rows) and len(lm.calls) == 4
    assert "no usable entity in ['Napoleon', 'Rome']" in rows[0]["entigraph_errors"][1]
    # one entity is enough for a summary row but no pair
    single = stage(ScriptedLM(answers=lambda a: '{"summary": "Ok.", "entities": ["London"]}')).process_batch(
        documents([ARTICLE]))
    assert [r["kind"] for r in single.created.to_pylist()] == ["summary"]


def test_subset_and_emit_synthetic_account_for_every_source():
    s = stage(ScriptedLM(), max_pairs=1, max_triples=0)
    s.selected = {"d1"}
    out = s.process_batch(documents([ARTICLE, ARTICLE]))
    assert out.batch.column(DROP_REASON).to_pylist() == ["entigraph_unselected", "entigraph_source"]
    assert out.created.column("parent_id").to_pylist() == ["d1", "d1"]
    assert EntiGraph.summarize(out.stats)["status"] == {"done": 1, "unselected": 1}


def test_unsupported_constraint_falls_back_to_repair():
    lm = ScriptedLM(answers=lambda a: 'Here: {"summary": "S", "entities": ["London", "Ada Lovelace"', constraint_kinds=())
    out = stage(lm, max_pairs=1, max_triples=0).process_batch(documents([ARTICLE]))
    assert lm.calls[0][2] is None and out.created.num_rows == 2
    stats = EntiGraph.summarize(out.stats)
    assert stats["extract_repaired"] == 1 and stats["extract_first_try_share"] == 0.0


def test_overlap_tells_copying_from_rephrasing():
    source = SourceNgrams(ARTICLE)
    copied = overlap_shares(source.counts(ARTICLE))
    assert copied == {"2": 1.0, "4": 1.0, "8": 1.0, "16": 1.0}
    fresh = overlap_shares(source.counts("Entirely different words appear here without any shared phrase at all"))
    assert fresh["2"] == 0.0 and fresh["16"] is None


def test_parameters_are_checked():
    with pytest.raises(ValueError):
        EntiGraphParams(max_pairs=4000, max_triples=100)
    with pytest.raises(ValueError):
        EntiGraphParams(emit="sources")


def test_prepare_helper_keeps_each_batchs_smallest_keys_or_only_the_word_total():
    from curate.stages.entigraph import _keyed_words

    table = documents(["one two", "three four five", "six"], ids=["a", "b", "c"])
    smallest = _keyed_words(table, seed=0, k=2).to_pylist()
    ranked = sorted((selection_key(i, 0), i) for i in "abc")
    assert [r["id"] for r in smallest] == [i for _, i in ranked[:2]]
    assert {r["id"]: r["words"] for r in smallest} == {i: {"a": 2, "b": 3, "c": 1}[i] for _, i in ranked[:2]}
    assert _keyed_words(table, seed=0, k=None).column("words").to_pylist() == [6]


def test_answers_cut_by_the_token_limit_end_at_a_full_sentence():
    from curate.entigraph.generator import finish_text

    cut = Generation("  Ada wrote a program. Babbage built the engine. It ran on", 12, "length")
    assert finish_text(cut) == "Ada wrote a program. Babbage built the engine."
    assert finish_text(Generation("One long sentence without an end", 6, "length")) == \
        "One long sentence without an end"
    assert finish_text(Generation(" Complete. ", 2, "stop")) == "Complete."
