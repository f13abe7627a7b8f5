"""``preset: prox`` loads ProX's two refining models, each in its own vLLM engine, in one actor on one GPU.

vLLM itself cannot run here: a stand-in ``vllm`` package (tests/test_vllm_request.py) records the arguments
each engine is built with, and the start-up rule of vLLM's GPU worker is applied to them: an engine starts
only when the GPU's free memory is at least ``gpu_memory_utilization`` x total (``init_device`` in
``vllm/v1/worker/gpu_worker.py``: "Free memory on device ... on startup is less than desired GPU memory
utilization"), and an engine holds its share from then on.
"""

import sys

import pytest

from curate.config import ConfigError, parse_pipeline
from curate.stages.rewrite import MAX_GPU_SHARE, Rewrite
from tests.test_vllm_request import fake_vllm

CHUNK = {"backend": "vllm", "model": "/models/web-chunk-refining-lm"}
DOC = {"backend": "vllm", "model": "/models/web-doc-refining-lm"}
CONTEXT_GIB = 0.6  # what a CUDA context takes outside an engine's share (measured: 0.4-0.6 GiB on an H100)


def engines_built(monkeypatch, **params) -> list[dict]:
    fake_vllm(monkeypatch)
    built: list[dict] = []

    class Recording(sys.modules["vllm"].LLM):
        def __init__(self, **options):
            super().__init__(**options)
            built.append(options)

    monkeypatch.setattr(sys.modules["vllm"], "LLM", Recording)
    stage = Rewrite(preset="prox", **params)
    stage.setup()
    assert stage.resources.num_gpus == 1  # one actor, one GPU, both engines inside it
    return built


def starts_on_one_gpu(shares: list[float], total_gib: float = 80.0) -> bool:
    """vLLM's start-up check, one engine after the other on the same GPU."""
    free = total_gib - CONTEXT_GIB
    for share in shares:
        if free < share * total_gib:
            return False
        free -= share * total_gib + CONTEXT_GIB
    return True


def test_both_engines_are_built_to_share_one_gpu(monkeypatch):
    built = engines_built(monkeypatch, lm=CHUNK, doc_lm=DOC)
    assert [e["model"] for e in built] == [CHUNK["model"], DOC["model"]]
    assert [e["max_model_len"] for e in built] == [2048, 2048]  # the released models' context
    assert starts_on_one_gpu([e["gpu_memory_utilization"] for e in built])
    assert not starts_on_one_gpu([0.85, 0.85])  # the single-engine default: the second engine would not start


def test_shares_given_by_the_user_are_kept_when_they_fit(monkeypatch):
    built = engines_built(monkeypatch, lm={**CHUNK, "gpu_memory_utilization": 0.6},
                          doc_lm={**DOC, "gpu_memory_utilization": 0.25})
    assert [e["gpu_memory_utilization"] for e in built] == [0.6, 0.25]
    assert starts_on_one_gpu([0.6, 0.25])


def build(stage: dict) -> None:
    parse_pipeline({"input": ["in"], "output": "out", "stages": [{"rewrite": stage}]}).build_stages()


def test_shares_that_cannot_both_start_are_a_config_error():
    # every pair the check lets through starts, on a 24 GiB card as on an 80 GiB one
    shares = [x / 100 for x in range(5, 90, 5)]
    assert all(starts_on_one_gpu([a, b], total) for a in shares for b in shares if a + b <= MAX_GPU_SHARE
               for total in (24.0, 80.0))
    with pytest.raises(ConfigError, match="gpu_memory_utilization .* must be at most 0.9"):
        build({"preset": "prox", "lm": {**CHUNK, "gpu_memory_utilization": 0.85}, "doc_lm": DOC})


@pytest.mark.parametrize("doc_lm", [None, CHUNK])
def test_prox_without_its_document_model_is_a_config_error(doc_lm):
    stage = {"preset": "prox", "lm": CHUNK} | ({"doc_lm": doc_lm} if doc_lm else {})
    with pytest.raises(ConfigError, match="preset prox needs doc_lm.*web-doc-refining-lm.*document_level: false"):
        build(stage)


def test_chunk_pass_alone_needs_no_document_model():
    assert Rewrite(preset="prox", lm=CHUNK, document_level=False).params.doc_lm is None
