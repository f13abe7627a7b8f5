"""The ``openai`` backend: any OpenAI-compatible server.

Works with ``vllm serve``, SGLang, llama.cpp's server and llama-cpp-python's
``python -m llama_cpp.server``. Requests run concurrently (``concurrency``),
each with a timeout; connection errors, 429 and 5xx answers are retried a
bounded number of times with exponential backoff. A server that cannot be
reached raises :class:`~curate.lm.base.LMUnavailableError` naming the URL.

Constraints are not part of the OpenAI API proper; ``server`` says which
dialect to send: ``vllm`` (``structured_outputs``), ``sglang``
(``regex`` / ``ebnf`` / ``json_schema``), ``llamacpp`` (``grammar``) or
``generic`` (JSON schema through ``response_format`` only).
"""

from __future__ import annotations

import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from curate.lm.base import (
    LM,
    Constraint,
    Generation,
    LMError,
    LMUnavailableError,
    Prompt,
    SamplingParams,
    choice_grammar,
    is_chat,
    renormalise,
)

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
SERVER_CONSTRAINTS = {
    "vllm": frozenset({"grammar", "regex", "json_schema", "choice"}),
    "sglang": frozenset({"grammar", "regex", "json_schema", "choice"}),
    "llamacpp": frozenset({"grammar", "json_schema", "choice"}),
    "generic": frozenset({"json_schema"}),
}


class OpenAILM(LM):
    backend = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        server: str = "generic",
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
    ) -> None:
        if server not in SERVER_CONSTRAINTS:
            raise LMError(f"unknown server dialect {server!r}; valid: {', '.join(SERVER_CONSTRAINTS)}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.server = server
        self.constraint_kinds = SERVER_CONSTRAINTS[server]
        self.concurrency = max(1, concurrency)
        self.timeout_s = timeout_s
        self.max_retries = max(0, max_retries)
        self.backoff_s = backoff_s
        self._tokenize_route: str | None = None

    # ------------------------------------------------------------ HTTP
    def _post(self, path: str, body: dict[str, Any], url: str | None = None) -> dict[str, Any]:
        url = url or f"{self.base_url}{path}"
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: str = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(self.backoff_s * 2 ** (attempt - 1), 30.0))
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                try:
                    out = json.loads(raw)
                except ValueError:
                    raise LMError(f"{url} answered something that is not JSON: {raw[:200]!r}") from None
                if not isinstance(out, dict):
                    raise LMError(f"{url} answered JSON that is not an object: {raw[:200]!r}")
                return out
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:500]
                if exc.code in RETRY_STATUS:
                    last = f"HTTP {exc.code}: {detail}"
                    continue
                raise LMError(f"{url} answered HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last = str(getattr(exc, "reason", exc)) or type(exc).__name__
                continue
        if last.startswith("HTTP"):
            raise LMError(f"{url} kept failing after {self.max_retries + 1} attempts: {last}")
        raise LMUnavailableError(
            f"cannot reach the OpenAI-compatible server at {url} after {self.max_retries + 1} attempts ({last}); "
            "is it running, and is base_url right?"
        )

    def _map(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # ------------------------------------------------------------ constraints
    def _constraint_fields(self, constraint: Constraint | None, chat: bool) -> dict[str, Any]:
        if constraint is None:
            return {}
        self.check_constraint(constraint)
        kind, value = constraint.kind, constraint.value
        if kind == "json_schema" and (self.server == "generic" or chat):
            schema = json.loads(value) if isinstance(value, str) else value
            return {"response_format": {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}}
        if self.server == "vllm":
            key = {"grammar": "grammar", "regex": "regex", "json_schema": "json", "choice": "choice"}[kind]
            return {"structured_outputs": {key: list(value) if kind == "choice" else value}}
        if self.server == "sglang":
            if kind == "choice":
                return {"ebnf": choice_grammar(value)}
            key = {"grammar": "ebnf", "regex": "regex", "json_schema": "json_schema"}[kind]
            return {key: value if isinstance(value, str) else json.dumps(value)}
        # llama.cpp servers
        if kind == "choice":
            return {"grammar": choice_grammar(value)}
        if kind == "json_schema":
            return {"json_schema": value if not isinstance(value, str) else json.loads(value)}
        return {"grammar": value}

    # ------------------------------------------------------------ LM
    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Generation]:
        params = params or SamplingParams()
        self.check_constraint(constraint)

        def one(prompt: Prompt) -> Generation:
            chat = is_chat(prompt)
            body: dict[str, Any] = {
                "model": self.model, "max_tokens": params.max_tokens, "temperature": params.temperature,
                "top_p": params.top_p, "seed": params.seed,
            }
            if params.stop:
                body["stop"] = list(params.stop)
            if params.repeat_penalty != 1.0:
                body["repeat_penalty"] = params.repeat_penalty  # llama.cpp servers
                body["repetition_penalty"] = params.repeat_penalty  # vLLM, SGLang
            body.update(self._constraint_fields(constraint, chat))
            if chat:
                body["messages"] = prompt
                out = self._post("/chat/completions", body)
                choice = out["choices"][0]
                text = choice["message"].get("content") or ""
            else:
                body["prompt"] = prompt
                out = self._post("/completions", body)
                choice = out["choices"][0]
                text = choice.get("text") or ""
            usage = out.get("usage") or {}
            return Generation(text, int(usage.get("completion_tokens") or 0), choice.get("finish_reason") or "stop")

        return self._map(_checked(one, self.base_url), list(prompts))

    def choice_logprobs(self, prompts: Sequence[Prompt], choices: Sequence[str]) -> list[list[float]]:
        def one(prompt: Prompt) -> list[float]:
            body: dict[str, Any] = {"model": self.model, "max_tokens": 1, "temperature": 0.0}
            if is_chat(prompt):
                body.update(messages=prompt, logprobs=True, top_logprobs=20)
                out = self._post("/chat/completions", body)
                content = ((out["choices"][0].get("logprobs") or {}).get("content") or [{}])[0]
                top = {item["token"]: item["logprob"] for item in content.get("top_logprobs") or []}
            else:
                body.update(prompt=prompt, logprobs=20)
                out = self._post("/completions", body)
                lp = out["choices"][0].get("logprobs") or {}
                top = (lp.get("top_logprobs") or [{}])[0] or {}
            if not top:
                raise LMError(f"{self.base_url} returned no log-probabilities; the server must allow logprobs")
            return renormalise([_choice_logprob(choice, top) for choice in choices])

        return self._map(_checked(one, self.base_url), list(prompts))

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._map(self._count, list(texts))

    def _count(self, text: str) -> int:
        root = self.base_url[:-3] if self.base_url.endswith("/v1") else self.base_url
        routes = {
            "vllm": (f"{root}/tokenize", {"model": self.model, "prompt": text, "add_special_tokens": False}),
            "extras": (f"{root}/extras/tokenize", {"input": text}),
            "llamacpp": (f"{root}/tokenize", {"content": text}),
        }
        order = [self._tokenize_route] if self._tokenize_route else list(routes)
        for name in order:
            url, body = routes[name]  # type: ignore[index]
            try:
                out = self._post("", body, url=url)
            except LMUnavailableError:
                raise
            except LMError:
                continue
            tokens = out.get("tokens")
            if tokens is None and "count" not in out:
                continue
            self._tokenize_route = name
            return int(out["count"]) if "count" in out else len(tokens)
        raise LMError(f"{self.base_url}: the server offers no tokenize endpoint; token counts need one")


def _checked(fn: Any, url: str) -> Any:
    """``fn`` with a malformed answer (missing fields, wrong types) reported as an :class:`LMError`."""
    def run(item: Any) -> Any:
        try:
            return fn(item)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise LMError(f"{url} answered an unexpected response ({type(exc).__name__}: {exc})") from None
    return run


def _choice_logprob(choice: str, top: dict[str, float]) -> float:
    best = -math.inf
    for token, logprob in top.items():
        if token.strip() and choice.startswith(token):
            best = max(best, logprob)
    return best
