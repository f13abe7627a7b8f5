"""LM backends for real: SmolLM2 through llama.cpp, and llama-cpp-python's OpenAI-compatible server."""

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from curate.lm import Constraint, LMConfig, LMUnavailableError, SamplingParams, UnsupportedConstraintError, load_lm
from curate.lm.openai import OpenAILM
from tests.conftest import terminate

pytest.importorskip("llama_cpp", reason="the LM tests need llama-cpp-python (make install-test installs it)")

from curate.lm.llamacpp import smollm2_path  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.model]
CHOICES = (" yes", " no")


@pytest.fixture(scope="module")
def smol():
    lm = load_lm(LMConfig(n_ctx=2048), threads=2)
    yield lm
    lm.close()


def test_generation_is_deterministic_and_bounded(smol):
    params = SamplingParams(max_tokens=8, seed=1)
    first = smol.generate(["The capital of France is", [{"role": "user", "content": "Say hello."}]], params)
    second = smol.generate(["The capital of France is"], params)
    assert first[0].text == second[0].text
    assert all(0 < g.tokens <= 8 for g in first)
    assert first[1].text.strip()


def test_grammar_and_json_schema_constraints(smol):
    choice = smol.generate(["Is water wet? Answer:"], SamplingParams(max_tokens=8),
                           Constraint("choice", ["drop_doc()", "keep_doc()"]))
    assert choice[0].text in ("drop_doc()", "keep_doc()")
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    out = smol.generate([[{"role": "user", "content": "Give a JSON object with a number n."}]],
                        SamplingParams(max_tokens=24), Constraint("json_schema", schema))
    assert isinstance(json.loads(out[0].text)["n"], int)
    with pytest.raises(UnsupportedConstraintError):
        smol.generate(["x"], SamplingParams(max_tokens=2), Constraint("regex", "[a-z]+"))


def test_choice_logprobs_are_normalised_and_cache_safe(smol):
    prompts = ["Question: is the sky blue? Answer:", "Question: is fire cold? Answer:",
               "Question: is the sky blue? Answer:"]
    scores = smol.choice_logprobs(prompts, CHOICES)
    for row in scores:
        assert math.isclose(sum(math.exp(x) for x in row), 1.0, rel_tol=1e-6)
    # the same prompt scored after another one (reusing the shared cached prefix) gives the same numbers
    assert scores[0] == pytest.approx(scores[2], abs=1e-4)
    assert scores[0] != pytest.approx(scores[1], abs=1e-4)
    assert smol.count_tokens(["hello world", ""]) [1] == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = open(tmp_path_factory.mktemp("server") / "server.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", smollm2_path(), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--logits_all", "true",
         "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
            try:
                urllib.request.urlopen(f"{base}/models", timeout=2).read()
                break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("llama_cpp.server did not start within 120 s")
                time.sleep(0.5)
        yield base
    finally:
        terminate(process)
        log.close()


def test_openai_backend_against_a_real_server(server, smol):
    lm = OpenAILM("smollm2", base_url=server, server="llamacpp", concurrency=2, timeout_s=60)
    params = SamplingParams(max_tokens=6)
    outs = lm.generate(["The capital of France is", [{"role": "user", "content": "Say hello."}]], params)
    assert len(outs) == 2 and all(o.text.strip() and 0 < o.tokens <= 6 for o in outs)
    constrained = lm.generate(["Keep or drop? "] * 3, params, Constraint("choice", ["drop_doc()", "keep_doc()"]))
    assert all(o.text in ("drop_doc()", "keep_doc()") for o in constrained)
    assert lm.count_tokens(["hello world, how are you?"]) == smol.count_tokens(["hello world, how are you?"])
    remote = lm.choice_logprobs(["Question: is the sky blue? Answer:"], CHOICES)[0]
    local = smol.choice_logprobs(["Question: is the sky blue? Answer:"], CHOICES)[0]
    assert math.exp(remote[0]) == pytest.approx(math.exp(local[0]), abs=0.05)


def test_openai_backend_unreachable_server_is_a_clear_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    lm = OpenAILM("m", base_url=url, max_retries=2, backoff_s=0.01, timeout_s=2)
    with pytest.raises(LMUnavailableError, match="cannot reach .*127.0.0.1.*3 attempts"):
        lm.generate(["hi"], SamplingParams(max_tokens=2))
