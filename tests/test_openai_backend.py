"""The ``openai`` backend against a tiny local HTTP server: retries, errors, constraint dialects, logprobs, tokens."""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curate.lm.base import Constraint, LMError, LMUnavailableError, SamplingParams, UnsupportedConstraintError
from curate.lm.openai import OpenAILM


class Scripted:
    """Answers queued per path (status, JSON body); every request is recorded as (path, body, headers)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, dict]]] = {}
        self.requests: list[tuple[str, dict, dict]] = []
        self.lock = threading.Lock()

    def queue(self, path: str, *answers: tuple[int, dict]) -> None:
        self.answers.setdefault(path, []).extend(answers)

    def answer(self, path: str, body: dict, headers: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append((path, body, headers))
            queued = self.answers.get(path)
            if not queued:
                return 404, {"error": f"no route {path}"}
            return queued.pop(0) if len(queued) > 1 else queued[0]


@pytest.fixture(scope="module")
def http_server():
    """One local server for the module; each test gets a fresh script (see ``api``)."""
    current: dict[str, Scripted] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, answer = current["script"].answer(self.path, body, dict(self.headers))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield current, f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def api(http_server):
    current, url = http_server
    script = current["script"] = Scripted()
    script.url = url
    return script


def completion(text: str, tokens: int = 2, finish: str = "stop") -> dict:
    return {"choices": [{"text": text, "finish_reason": finish}], "usage": {"completion_tokens": tokens}}


def lm(script: Scripted, **kwargs) -> OpenAILM:
    kwargs = {"backoff_s": 0.0, "concurrency": 1, "timeout_s": 5.0, **kwargs}
    return OpenAILM("served-model", base_url=script.url, **kwargs)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retryable_answers_are_retried_until_one_succeeds(api, status):
    api.queue("/v1/completions", (status, {"error": "busy"}), (status, {"error": "busy"}), (200, completion("ok", 1)))
    [out] = lm(api, max_retries=3).generate(["Say ok"])
    assert (out.text, out.tokens, out.finish_reason) == ("ok", 1, "stop")
    assert len(api.requests) == 3
    assert all(body["prompt"] == "Say ok" for _, body, _ in api.requests)


def test_retries_are_bounded_and_the_error_names_the_last_answer(api):
    api.queue("/v1/completions", (503, {"error": "overloaded"}))
    with pytest.raises(LMError, match=r"kept failing after 3 attempts: HTTP 503: .*overloaded") as info:
        lm(api, max_retries=2).generate(["x"])
    assert not isinstance(info.value, LMUnavailableError)
    assert len(api.requests) == 3


def test_a_client_error_is_not_retried(api):
    api.queue("/v1/completions", (400, {"error": "max_tokens too large"}))
    with pytest.raises(LMError, match=r"answered HTTP 400: .*max_tokens too large"):
        lm(api, max_retries=3).generate(["x"])
    assert len(api.requests) == 1


def test_unreachable_server_is_a_clear_error():
    closed = OpenAILM("m", base_url="http://127.0.0.1:9/v1", max_retries=1, backoff_s=0.0, timeout_s=2.0)
    with pytest.raises(LMUnavailableError, match=r"cannot reach .*127\.0\.0\.1:9/v1/completions after 2 attempts"):
        closed.generate(["x"])


def test_request_body_sampling_and_api_key(api):
    api.queue("/v1/chat/completions", (200, {"choices": [{"message": {"content": "hi"}, "finish_reason": "length"}],
                                                "usage": {"completion_tokens": 4}}))
    params = SamplingParams(max_tokens=4, temperature=0.5, top_p=0.9, seed=7, stop=("\n",), repeat_penalty=1.2)
    messages = [{"role": "user", "content": "Hello"}]
    [out] = lm(api, api_key="sekret").generate([messages], params)
    assert (out.text, out.tokens, out.finish_reason) == ("hi", 4, "length")
    path, body, headers = api.requests[0]
    assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sekret"
    assert body == {"model": "served-model", "max_tokens": 4, "temperature": 0.5, "top_p": 0.9, "seed": 7,
                    "stop": ["\n"], "repeat_penalty": 1.2, "repetition_penalty": 1.2, "messages": messages}


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}


@pytest.mark.parametrize("dialect, constraint, fields", [
    ("vllm", Constraint("regex", "[0-9]+"), {"structured_outputs": {"regex": "[0-9]+"}}),
    ("vllm", Constraint("choice", ("a", "b")), {"structured_outputs": {"choice": ["a", "b"]}}),
    ("vllm", Constraint("json_schema", SCHEMA), {"structured_outputs": {"json": SCHEMA}}),
    ("vllm", Constraint("grammar", 'root ::= "x"'), {"structured_outputs": {"grammar": 'root ::= "x"'}}),
    ("sglang", Constraint("regex", "[0-9]+"), {"regex": "[0-9]+"}),
    ("sglang", Constraint("grammar", 'root ::= "x"'), {"ebnf": 'root ::= "x"'}),
    ("sglang", Constraint("choice", ("a", 'b"')), {"ebnf": 'root ::= "a" | "b\\""\n'}),
    ("sglang", Constraint("json_schema", SCHEMA), {"json_schema": json.dumps(SCHEMA)}),
    ("llamacpp", Constraint("grammar", 'root ::= "x"'), {"grammar": 'root ::= "x"'}),
    ("llamacpp", Constraint("choice", ("yes", "no")), {"grammar": 'root ::= "yes" | "no"\n'}),
    ("llamacpp", Constraint("json_schema", json.dumps(SCHEMA)), {"json_schema": SCHEMA}),
    ("generic", Constraint("json_schema", SCHEMA),
     {"response_format": {"type": "json_schema", "json_schema": {"name": "output", "schema": SCHEMA}}}),
])
def test_constraint_dialects(api, dialect, constraint, fields):
    api.queue("/v1/completions", (200, completion("1")))
    lm(api, server=dialect).generate(["n:"], SamplingParams(max_tokens=3), constraint)
    body = api.requests[0][1]
    assert {k: body[k] for k in fields} == fields
    others = {"structured_outputs", "regex", "ebnf", "json_schema", "grammar", "response_format"} - set(fields)
    assert not others & set(body)


def test_chat_json_schema_goes_through_response_format_for_every_dialect(api):
    api.queue("/v1/chat/completions", (200, {"choices": [{"message": {"content": "{}"}}]}))
    lm(api, server="vllm").generate([[{"role": "user", "content": "n?"}]], None, Constraint("json_schema", SCHEMA))
    assert api.requests[0][1]["response_format"]["json_schema"]["schema"] == SCHEMA


@pytest.mark.parametrize("dialect, kind", [("generic", "grammar"), ("generic", "choice"), ("llamacpp", "regex")])
def test_unsupported_constraint_fails_before_any_request(api, dialect, kind):
    value = ["a"] if kind == "choice" else "x"
    with pytest.raises(UnsupportedConstraintError, match=f"cannot enforce a {kind} constraint"):
        lm(api, server=dialect).generate(["x"], None, Constraint(kind, value))
    assert api.requests == []


def test_unknown_dialect_lists_the_valid_ones():
    with pytest.raises(LMError, match="unknown server dialect 'tgi'; valid: vllm, sglang, llamacpp, generic"):
        OpenAILM("m", server="tgi")


def test_choice_logprobs_from_completions_and_chat(api):
    # completion: top log-probabilities of the first token; " yes" matches the choice " yes", " n" the choice " no"
    api.queue("/v1/completions", (200, {"choices": [{"logprobs": {"top_logprobs": [
        {" yes": math.log(0.3), " n": math.log(0.1), "maybe": math.log(0.5)}]}}]}))
    api.queue("/v1/chat/completions", (200, {"choices": [{"logprobs": {"content": [{"top_logprobs": [
        {"token": " no", "logprob": math.log(0.6)}, {"token": "x", "logprob": math.log(0.2)}]}]}}]}))
    model = lm(api)
    [completion_row] = model.choice_logprobs(["Q:"], [" yes", " no"])
    [chat_row] = model.choice_logprobs([[{"role": "user", "content": "Q?"}]], [" yes", " no"])
    # 0.3 and 0.1 among the two choices: 3/4 and 1/4; a choice the server did not list gets -inf
    assert [math.exp(x) for x in completion_row] == pytest.approx([0.75, 0.25])
    assert chat_row[0] == -math.inf and chat_row[1] == pytest.approx(0.0)
    completion_body, chat_body = api.requests[0][1], api.requests[1][1]
    assert completion_body["logprobs"] == 20 and completion_body["max_tokens"] == 1
    assert chat_body["logprobs"] is True and chat_body["top_logprobs"] == 20


def test_choice_logprobs_without_logprobs_is_an_error(api):
    api.queue("/v1/completions", (200, {"choices": [{"text": "yes"}]}))
    with pytest.raises(LMError, match="returned no log-probabilities"):
        lm(api).choice_logprobs(["Q:"], [" yes", " no"])


def test_token_counts_find_the_server_route_once(api):
    # not vLLM's /tokenize (404 from the server here), then llama-cpp-python's /extras/tokenize
    api.queue("/extras/tokenize", (200, {"tokens": [1, 2, 3]}))
    model = lm(api)
    assert model.count_tokens(["a b c", "d e f"]) == [3, 3]
    assert [path for path, _, _ in api.requests] == ["/tokenize", "/extras/tokenize", "/extras/tokenize"]


def test_token_counts_without_a_route_are_an_error(api):
    with pytest.raises(LMError, match="offers no tokenize endpoint"):
        lm(api, max_retries=0).count_tokens(["x"])
