"""The rewrite stage over the ``openai`` backend when the server fails: down, too slow, or answering garbage.

A real local HTTP server process plays the OpenAI-compatible server; the path
prefix picks its behaviour (``/ok/v1``, ``/slow/v1``, ``/garbage/v1``,
``/broken/v1``). Every document must come out unmodified, with the failure
recorded, and the batch must finish.
"""

import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from curate.lm import LMConfig, load_lm
from curate.stage import DROP_REASON
from curate.stages.rewrite import RewriteParams, Rewriter, summarize
from tests.conftest import documents, terminate

SERVER = textwrap.dedent('''
    import json, sys, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self._send(200, b"{}")

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            mode = self.path.split("/")[1]
            if self.path.endswith("/tokenize"):
                text = body.get("prompt") or body.get("content") or ""
                return self._send(200, json.dumps({"tokens": text.split()}).encode())
            if mode == "slow":
                time.sleep(3)
            if mode == "garbage":
                return self._send(200, b"<html>502 upstream</html>")
            if mode == "broken":
                return self._send(200, json.dumps({"choices": []}).encode())
            text = "keep_doc()" if "drop_doc" in json.dumps(body) else "remove_lines(line_start=0, line_end=0)"
            answer = {"choices": [{"message": {"content": text}, "text": text, "finish_reason": "stop"}],
                      "usage": {"completion_tokens": 3}}
            self._send(200, json.dumps(answer).encode())

        def _send(self, code, data):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
''')

TEXTS = ["\n".join(f"Line {i} of document {d} has several words in it." for i in range(8)) for d in range(3)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                urllib.request.urlopen(f"{root}/ok/v1/models", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or process.poll() is not None:
                    pytest.fail("the test server did not start")
                time.sleep(0.1)
        yield root
    finally:
        terminate(process)


def _rewrite(base_url: str) -> list[dict]:
    config = LMConfig(backend="openai", model="m", server="vllm", base_url=base_url, timeout_s=0.5, max_retries=1,
                      request_concurrency=2)
    params = RewriteParams(preset="instruct", lm=config, min_words=0, constrained=False)
    lm = load_lm(config)
    lm.backoff_s = 0.01
    return Rewriter(params, lm).process(documents(TEXTS)).to_pylist()


def test_a_healthy_server_edits(server):
    rows = _rewrite(f"{server}/ok/v1")
    assert [r["rewrite_status"] for r in rows] == ["edited"] * 3
    assert rows[0]["text"] == TEXTS[0].split("\n", 1)[1]


@pytest.mark.parametrize("mode,error", [("down", "LMUnavailableError"), ("slow", "timed out"),
                                        ("garbage", "not JSON"), ("broken", "unexpected response")])
def test_a_failing_server_keeps_every_document(server, mode, error):
    base = f"http://127.0.0.1:{_free_port()}/v1" if mode == "down" else f"{server}/{mode}/v1"
    started = time.time()
    rows = _rewrite(base)
    assert time.time() - started < 10
    assert [r["text"] for r in rows] == TEXTS
    assert all(r["rewrite_status"] == "fallback" and r[DROP_REASON] is None for r in rows)
    assert all(error in r["rewrite_backend_error"] for r in rows), rows[0]["rewrite_backend_error"]
    assert summarize(rows)["backend_errors"] == 3
