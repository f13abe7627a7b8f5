"""The ``vllm`` backend without vLLM installed: engine options, sampling and structured outputs, results, GPUs.

A stand-in ``vllm`` package records what the backend passes to ``vllm.LLM``
and ``vllm.SamplingParams`` and answers with outputs of vLLM's shape. The
real engine runs in ``make test-vllm`` (tests/vllm/).
"""

from __future__ import annotations

import math
import sys
import types
from dataclasses import dataclass, field

import pytest

from curate.lm import LMConfig, load_lm
from curate.lm.base import Constraint, LMError, SamplingParams


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str | None


@dataclass
class Output:
    outputs: list[Completion] = field(default_factory=list)
    prompt_logprobs: list | None = None


@dataclass
class Logprob:
    logprob: float


class Tokenizer:
    """Characters are tokens (ord), so first tokens of choices are their first characters."""

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return ([1] if add_special_tokens else []) + [ord(c) for c in text]

    def apply_chat_template(self, messages, tokenize: bool, add_generation_prompt: bool) -> str:
        assert not tokenize and add_generation_prompt
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def fake_vllm(monkeypatch, *, structured: bool = True, fail: str | None = None) -> types.SimpleNamespace:
    seen = types.SimpleNamespace(llm_options=None, sampling=[], requests=[])

    class LLM:
        def __init__(self, **options):
            if fail:
                raise RuntimeError(fail)
            seen.llm_options = options

        def get_tokenizer(self):
            return Tokenizer()

        def generate(self, prompts, sampling, use_tqdm=True):
            assert use_tqdm is False
            seen.requests.append(prompts)
            if sampling.options.get("prompt_logprobs") == 0:
                # the last prompt token is the choice's first token: logprob -1 for "y", -2 for "n", none for others
                table = {ord("y"): -1.0, ord("n"): -2.0}
                return [Output(prompt_logprobs=[None, {p["prompt_token_ids"][-1]: Logprob(table[p["prompt_token_ids"][-1]])}]
                               if p["prompt_token_ids"][-1] in table else [None, None]) for p in prompts]
            return [Output([Completion(f"out:{p}", [5] * (i + 1), None if i else "length")])
                    for i, p in enumerate(prompts)]

    class Recorded:
        def __init__(self, **options):
            self.options = options

    class Sampling(Recorded):
        def __init__(self, **options):
            super().__init__(**options)
            seen.sampling.append(self)

    package = types.ModuleType("vllm")
    package.LLM, package.SamplingParams = LLM, Sampling
    sampling_module = types.ModuleType("vllm.sampling_params")
    sampling_module.GuidedDecodingParams = type("GuidedDecodingParams", (Recorded,), {})
    if structured:
        sampling_module.StructuredOutputsParams = type("StructuredOutputsParams", (Recorded,), {})
    inputs = types.ModuleType("vllm.inputs")
    inputs.TokensPrompt = lambda prompt_token_ids: {"prompt_token_ids": prompt_token_ids}
    for name, module in (("vllm", package), ("vllm.sampling_params", sampling_module), ("vllm.inputs", inputs)):
        monkeypatch.setitem(sys.modules, name, module)
    return seen


def test_engine_options_from_the_config(monkeypatch):
    seen = fake_vllm(monkeypatch)
    load_lm(LMConfig(backend="vllm", model="/models/x", seed=3, dtype="bfloat16", max_model_len=2048,
                     gpu_memory_utilization=0.5, tensor_parallel_size=2))
    assert seen.llm_options == {"model": "/models/x", "seed": 3, "dtype": "bfloat16", "tensor_parallel_size": 2,
                                "enable_prefix_caching": True, "max_model_len": 2048, "gpu_memory_utilization": 0.5}


def test_an_engine_that_cannot_load_names_the_model(monkeypatch):
    fake_vllm(monkeypatch, fail="CUDA out of memory")
    with pytest.raises(LMError, match="cannot load '/models/x' with vLLM: CUDA out of memory"):
        load_lm(LMConfig(backend="vllm", model="/models/x"))


def test_generation_renders_chat_and_maps_results(monkeypatch):
    seen = fake_vllm(monkeypatch)
    lm = load_lm(LMConfig(backend="vllm", model="m"))
    params = SamplingParams(max_tokens=9, temperature=0.3, top_p=0.8, repeat_penalty=1.1, seed=4, stop=("END",))
    outs = lm.generate(["plain", [{"role": "user", "content": "hi"}]], params)
    assert seen.requests == [["plain", "<user>hi<assistant>"]]
    assert [(o.text, o.tokens, o.finish_reason) for o in outs] == [
        ("out:plain", 1, "length"), ("out:<user>hi<assistant>", 2, "stop")]
    assert seen.sampling[0].options == {"max_tokens": 9, "temperature": 0.3, "top_p": 0.8, "repetition_penalty": 1.1,
                                        "seed": 4, "stop": ["END"]}


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


@pytest.mark.parametrize("constraint, expected", [
    (Constraint("grammar", 'root ::= "x"'), {"grammar": 'root ::= "x"'}),
    (Constraint("regex", "[a-z]+"), {"regex": "[a-z]+"}),
    (Constraint("json_schema", '{"type": "object", "properties": {"n": {"type": "integer"}}}'), {"json": SCHEMA}),
    (Constraint("choice", ("keep", "drop")), {"choice": ["keep", "drop"]}),
])
@pytest.mark.parametrize("structured", [True, False], ids=["structured_outputs", "guided_decoding"])
def test_constraints_map_to_structured_outputs(monkeypatch, constraint, expected, structured):
    seen = fake_vllm(monkeypatch, structured=structured)
    load_lm(LMConfig(backend="vllm", model="m")).generate(["p"], None, constraint)
    options = seen.sampling[0].options
    key = "structured_outputs" if structured else "guided_decoding"  # vLLM >= 0.11, and older releases
    assert set(options) & {"structured_outputs", "guided_decoding"} == {key}
    assert options[key].options == expected


def test_choice_logprobs_append_each_first_token_and_renormalise(monkeypatch):
    seen = fake_vllm(monkeypatch)
    lm = load_lm(LMConfig(backend="vllm", model="m"))
    [row] = lm.choice_logprobs(["Q"], ["yes", "no", "maybe"])
    # prompt "Q" with special tokens, then each choice's first character
    assert [p["prompt_token_ids"] for p in seen.requests[0]] == [[1, 81, ord("y")], [1, 81, ord("n")],
                                                                   [1, 81, ord("m")]]
    assert seen.sampling[0].options["prompt_logprobs"] == 0 and seen.sampling[0].options["max_tokens"] == 1
    # e^-1 : e^-2 over the two choices the model scored; "maybe" has none
    assert row[0] == pytest.approx(-math.log(1 + math.exp(-1)))
    assert row[1] == pytest.approx(-1 - math.log(1 + math.exp(-1)))
    assert row[2] == -math.inf


def test_choices_sharing_a_first_token_are_refused(monkeypatch):
    fake_vllm(monkeypatch)
    with pytest.raises(LMError, match="do not start with different tokens"):
        load_lm(LMConfig(backend="vllm", model="m")).choice_logprobs(["Q"], ["yes", "yeah"])


def test_token_counts_use_the_engine_tokenizer_without_special_tokens(monkeypatch):
    fake_vllm(monkeypatch)
    assert load_lm(LMConfig(backend="vllm", model="m")).count_tokens(["abc", ""]) == [3, 0]
