"""The rewrite stage: failure policy, drops, subset and output columns (scripted model), then SmolLM2 for real."""

import math

import pytest

from curate.lm import LMUnavailableError
from curate.lm.base import LM, Generation
from curate.stage import DROP_REASON, ORDER
from curate.stages.rewrite import Rewrite, RewriteParams, Rewriter, selection_key, summarize
from tests.conftest import documents


class ScriptedLM(LM):
    """A deterministic model for testing the stage's plumbing: lines containing NAV are boilerplate,
    documents containing SPAM are dropped, and generated programs come from a list."""

    backend = "scripted"
    constraint_kinds = frozenset({"grammar"})

    def __init__(self, programs=(), fail_on=None, context=None, error=RuntimeError):
        self.programs = list(programs)
        self.prompts, self.constraints = [], []
        self.fail_on, self.context, self.error = fail_on, context, error

    def _check(self, prompts):
        for prompt in prompts:
            text = prompt if isinstance(prompt, str) else " ".join(m["content"] for m in prompt)
            if self.fail_on is not None and self.fail_on in text:
                raise self.error(f"backend refuses {self.fail_on}")
            if self.context is not None and len(text.split()) > self.context:
                raise ValueError(f"prompt of {len(text.split())} tokens does not fit the context")

    def generate(self, prompts, params=None, constraint=None):
        self._check(prompts)
        self.prompts.extend(prompts)
        self.constraints.append(constraint)
        return [Generation(self.programs.pop(0) if self.programs else "keep_chunk()", 3) for _ in prompts]

    def choice_logprobs(self, prompts, choices):
        self._check(prompts)
        out = []
        for prompt in prompts:
            last = prompt.rsplit("\n", 2)[-2] if "Label:" in prompt[-8:] else prompt
            yes = ("NAV" in last) if "Label:" in prompt[-8:] else ("SPAM" in prompt.rsplit("Document:", 1)[-1])
            out.append([0.0, -math.inf] if yes else [-math.inf, 0.0])
        return out

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


PAGE = "NAV Home\nNAV Next\n" + "\n".join(f"Content sentence number {i} with several words." for i in range(9)) + \
       "\nNAV Copyright"


def test_line_lm_preset_removes_lines_and_records_programs():
    table = documents([PAGE, "SPAM " * 30, "NAV only\nNAV again", "", "plain text " * 10])
    out = Rewriter(RewriteParams(preset="line_lm", chunk_tokens=20, min_words=0), ScriptedLM()).process(table)
    rows = out.to_pylist()
    assert rows[0]["text"] == PAGE.split("\n", 2)[2].rsplit("\n", 1)[0]
    assert rows[0]["rewrite_status"] == "edited"
    assert rows[0]["rewrite_programs"][0].startswith("remove_lines(line_start=0, line_end=1)")
    assert rows[0]["rewrite_doc_program"] == "keep_doc()"
    assert rows[0]["rewrite_tokens_out"] < rows[0]["rewrite_tokens_in"]
    assert [r[DROP_REASON] for r in rows] == [None, "rewrite_drop_doc", "rewrite_emptied", None, None]
    assert rows[3]["rewrite_status"] == "empty_input" and rows[3]["text"] == ""
    assert rows[4]["rewrite_status"] == "unchanged" and rows[4]["text"] == "plain text " * 10
    assert out.column(ORDER).to_pylist() == list(range(5))
    assert all(r["rewritten"] for r in rows)


def test_too_many_failed_calls_keep_the_original():
    text = "\n".join(f"line {i} has some words in it" for i in range(8))
    lm = ScriptedLM(["keep_doc()", "remove_lines(0, 1)\nremove_lines(0, 99)\nnormalize('absent', '')"])
    out = Rewriter(RewriteParams(preset="instruct", max_errors=2), lm).process(documents([text])).to_pylist()[0]
    assert out["rewrite_status"] == "fallback" and out["text"] == text
    assert out["rewrite_exec_errors"] == 2 and len(out["rewrite_error_log"]) == 2
    lenient = Rewriter(RewriteParams(preset="instruct", max_errors=3),
                       ScriptedLM(["keep_doc()", "remove_lines(0, 1)\nremove_lines(0, 99)\nnormalize('absent', '')"]))
    edited = lenient.process(documents([text])).to_pylist()[0]
    assert edited["rewrite_status"] == "edited" and edited["text"] == text.split("\n", 2)[2]


def test_unparsable_document_decision_keeps_the_document_and_counts_an_error():
    lm = ScriptedLM(["maybe later?", "keep_chunk()"])
    out = Rewriter(RewriteParams(preset="instruct", min_words=0), lm).process(documents(["some words here " * 5]))
    row = out.to_pylist()[0]
    assert row[DROP_REASON] is None and row["rewrite_parse_errors"] == 1


SYSTEM = "[INST] <<SYS>>\nYou are a helpful, respectful and honest assistant.\n<</SYS>>\n\n"
DOC_LM = {"model": "web-doc-refining-lm"}  # the scripted model answers both passes; the config names both


def test_prox_prompts_match_prox_formatting():
    """Expected strings written from ProX's data_gen/tasks/apply_{doc,chunk}_refining.py and the Llama-2 chat
    template: system prompt, [INST] wrapping, "[000]line" numbering, chunks packed on numbered lines."""
    text = "Title line\nSecond line here\n\nLast"
    lm = ScriptedLM(["keep_doc()", "keep_chunk()", "keep_chunk()"])
    params = RewriteParams(preset="prox", doc_lm=DOC_LM, chunk_tokens=7)
    row = Rewriter(params, lm).process(documents([text])).to_pylist()[0]
    assert lm.prompts == [
        SYSTEM + "Title line\nSecond line here\n\nLast [/INST]",
        SYSTEM + "[doc]\n[000]Title line\n[001]Second line here\n[/doc] [/INST]",
        SYSTEM + "[doc]\n[002]\n[003]Last\n[/doc] [/INST]",
    ]
    assert lm.constraints == [None, None]  # no grammar for the released models
    assert row["text"] == text and row["rewrite_status"] == "emptied"  # ProX drops 10 words or fewer
    assert params.lm.max_model_len == 2048 and params.doc_budget == 1900
    wide = ScriptedLM(["keep_doc()"])
    Rewriter(RewriteParams(preset="prox", doc_lm=DOC_LM), wide).process(documents(["x\n" * 1000 + "end"]))
    assert wide.prompts[-1].endswith("[999]x\n[1000]end\n[/doc] [/INST]")


def test_prox_executor_semantics_in_the_stage():
    text = "\n".join(f"line {i} has a few words" for i in range(12))
    lm = ScriptedLM(["I would drop_doc() this"])
    dropped = Rewriter(RewriteParams(preset="prox", doc_lm=DOC_LM), lm).process(documents([text])).to_pylist()[0]
    assert dropped[DROP_REASON] == "rewrite_drop_doc" and dropped["text"] == text
    lm = ScriptedLM(["keep_doc()", "remove_lines(line_start=0, line_end=1)\nexplain(1)\nSure! Here it is"])
    row = Rewriter(RewriteParams(preset="prox", doc_lm=DOC_LM), lm).process(documents([text])).to_pylist()[0]
    assert row["rewrite_status"] == "edited" and row["rewrite_ignored_calls"] == 2
    assert row["text"] == text.split("\n", 2)[2] and row["rewrite_parse_errors"] == 0


@pytest.mark.parametrize("fraction,words,status", [(0.05, 10, "emptied"), (0.0, 0, "edited")])
def test_emptied_thresholds_are_parameters(fraction, words, status):
    text = "NAV a\nNAV b\nkeep these five words here\n" + "NAV filler " * 30
    params = RewriteParams(preset="line_lm", min_kept_fraction=fraction, min_kept_words=words, document_level=False, min_words=0)
    out = Rewriter(params, ScriptedLM()).process(documents([text])).to_pylist()[0]
    assert out["rewrite_status"] == status


def test_subset_selection_and_keep_original():
    texts = [PAGE] * 4
    table = documents(texts)
    selected = {"d1", "d3"}
    out = Rewriter(RewriteParams(preset="line_lm", keep_original=True), ScriptedLM()).process(table, selected).to_pylist()
    assert [r["rewritten"] for r in out] == [False, True, False, True]
    assert out[0]["text"] == PAGE and out[0]["rewrite_status"] == "unselected"
    assert out[1]["text"] != PAGE and out[1]["original_text"] == PAGE
    assert selection_key("a", 0) != selection_key("a", 1)


def test_vllm_backend_declares_gpus():
    doc = {"backend": "vllm", "model": "d"}
    assert Rewrite(preset="prox", lm={"backend": "vllm", "model": "x", "tensor_parallel_size": 2},
                   doc_lm=doc).resources.num_gpus == 2
    assert Rewrite(preset="prox", lm={"backend": "vllm", "model": "x"}, doc_lm=doc).params.lm.max_model_len == 2048
    assert Rewrite().resources.num_gpus == 0


def test_short_documents_are_not_line_edited():
    short = "NAV A quote that the model takes for boilerplate\n-- NAV Someone"
    rows = Rewriter(RewriteParams(preset="line_lm", chunk_tokens=20), ScriptedLM()).process(documents([short, PAGE])).to_pylist()
    assert rows[0]["rewrite_status"] == "unchanged" and rows[0]["text"] == short and rows[0][DROP_REASON] is None
    assert rows[1]["rewrite_status"] == "edited"


def test_one_huge_line_is_cut_for_the_model_never_in_the_document():
    huge = " ".join(f"word{i}" for i in range(5000))  # one line, far over every budget
    lm = ScriptedLM(context=400)  # instruction and example (~100) + a chunk of 250
    params = RewriteParams(preset="instruct", doc_tokens=200, chunk_tokens=250, min_words=0)
    row = Rewriter(params, lm).process(documents([huge])).to_pylist()[0]
    assert row["rewrite_backend_error"] is None and row["text"] == huge
    assert lm.prompts and all(len(" ".join(m["content"] for m in p).split()) <= 400 for p in lm.prompts)


def test_a_backend_error_costs_only_its_document():
    texts = [PAGE, PAGE.replace("Content", "POISON"), PAGE]
    out = Rewriter(RewriteParams(preset="line_lm", min_words=0), ScriptedLM(fail_on="POISON")).process(documents(texts)).to_pylist()
    assert [r["rewrite_status"] for r in out] == ["edited", "fallback", "edited"]
    assert out[1]["text"] == texts[1] and "POISON" in out[1]["rewrite_backend_error"]
    assert out[1][DROP_REASON] is None
    stats = summarize(out)
    assert stats["backend_errors"] == 1 and stats["kept_original"] == 1


def test_an_unreachable_server_keeps_every_document():
    lm = ScriptedLM(fail_on="", error=LMUnavailableError)
    out = Rewriter(RewriteParams(preset="line_lm"), lm).process(documents([PAGE, "other " * 60])).to_pylist()
    assert [r["text"] for r in out] == [PAGE, "other " * 60]
    assert all(r["rewrite_status"] == "fallback" and "LMUnavailableError" in r["rewrite_backend_error"] for r in out)


def test_an_emptied_document_is_dropped_with_its_original_text():
    text = "NAV a\nNAV b\nthree words left\n" + "NAV filler " * 30
    params = RewriteParams(preset="line_lm", document_level=False, min_words=0, keep_original=True)
    row = Rewriter(params, ScriptedLM()).process(documents([text])).to_pylist()[0]
    assert row[DROP_REASON] == "rewrite_emptied" and row["text"] == text == row["original_text"]
