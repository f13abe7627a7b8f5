"""curate annotate with an in-process fake LM: sampling, parsing, failures, the command line."""

from __future__ import annotations

import json
import math

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.annotate import command as annotate_module
from curate.annotate.output import annotation_table
from curate.annotate.rubric import DEFAULT, PLACEHOLDER, Rubric
from curate.annotate.sample import sample_documents
from curate.annotate.scorer import Annotator, cut, from_logprobs, parse_answer
from curate.cli import main
from curate.lm import LMError
from tests.annotate_fakes import FakeLM
from tests.conftest import write_jsonl


def _docs(n: int, start: int = 0) -> list[dict]:
    return [{"id": f"doc{i}", "text": f"document number {i} grade{i % 6}"} for i in range(start, start + n)]


# ------------------------------------------------------------------ sampling


def test_sample_is_deterministic_and_independent_of_file_layout(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = write_jsonl(tmp_path / "one" / "all.jsonl", _docs(50))
    write_jsonl(tmp_path / "two" / "a.jsonl", _docs(20))
    write_jsonl(tmp_path / "two" / "b.jsonl", _docs(30, start=20))
    first = sample_documents([str(one)], 10, seed=1)
    again = sample_documents([str(one)], 10, seed=1)
    split = sample_documents([str(tmp_path / "two")], 10, seed=1)
    ids = first.documents.column("id").to_pylist()
    assert len(ids) == 10 and ids == again.documents.column("id").to_pylist()
    assert sorted(ids) == sorted(split.documents.column("id").to_pylist())
    other_seed = sample_documents([str(one)], 10, seed=2).documents.column("id").to_pylist()
    assert set(other_seed) != set(ids)
    larger = sample_documents([str(one)], 20, seed=1).documents.column("id").to_pylist()
    assert set(ids) <= set(larger)
    everything = sample_documents([str(one)], None, seed=1)
    assert everything.documents.num_rows == 50 and everything.read == 50


def test_sample_skips_and_counts_quarantined_records(tmp_path):
    path = write_jsonl(tmp_path / "mixed.jsonl", [*_docs(3), "{not json", {"id": "e", "text": "  "}])
    sample = sample_documents([str(path)], 100)
    assert sample.documents.column("id").to_pylist() == ["doc0", "doc1", "doc2"]
    assert sample.read == 5 and sample.quarantined == {"empty_text": 1, "malformed_json": 1}


# ------------------------------------------------------------------ parsing and scoring


@pytest.mark.parametrize("text, digit", [("3", 3), (" 4\n", 4), ("Score: 5/5", 5), ("0", 0), ("10", None),
                                         ("7", None), ("", None), ("no idea", None), ("2.5 points", 2)])
def test_parse_answer(text, digit):
    assert parse_answer(text) == digit


def test_expected_score_from_logprobs():
    probabilities = [0.1, 0.2, 0.3, 0.2, 0.1, 0.1]
    annotation = from_logprobs([math.log(p) for p in probabilities])
    assert annotation.score == pytest.approx(sum(i * p for i, p in enumerate(probabilities)))
    assert annotation.answer == 2 and sum(annotation.probabilities) == pytest.approx(1.0)
    empty = from_logprobs([-math.inf] * 6)
    assert empty.score is None and "no probability" in empty.error
    uniform = from_logprobs([-math.log(6)] * 6)  # what a server's top log-probabilities without a digit give
    assert uniform.score is None and "--method choice" in uniform.error


def test_logprobs_scores_follow_the_model_and_a_failing_document_gets_a_reason():
    lm = FakeLM()
    texts = ["a grade5 lesson", "spam grade0", "boom grade4", "notes grade3"]
    results = Annotator(lm, DEFAULT, "logprobs", batch_size=4).annotate(texts)
    assert [r.answer for r in results] == [5, 0, None, 3]
    assert results[0].score > 4 > results[3].score > 2 > results[1].score
    assert results[2].score is None and "LMError" in results[2].error and "choked" in results[2].error
    assert lm.calls == [4, 1, 1, 1, 1]  # the failed batch is retried one document at a time


def test_choice_method_constrains_when_it_can_and_parses_when_it_cannot():
    constrained = FakeLM()
    results = Annotator(constrained, DEFAULT, "choice").annotate(["x grade2", "y grade5"])
    assert [r.score for r in results] == [2.0, 5.0] and constrained.constraints[0].kind == "choice"
    free = FakeLM(constraint_kinds=frozenset())
    annotator = Annotator(free, DEFAULT, "choice")
    results = annotator.annotate(["x grade2", "mumble"])
    assert not annotator.constrained and free.constraints == [None]
    assert results[0].score == 2.0 and results[0].raw == "Score: 2/5"
    assert results[1].score is None and "no digit 0-5" in results[1].error


def test_many_failures_in_a_row_stop_sending_and_every_document_is_accounted_for():
    lm = FakeLM()
    texts = ["boom"] * 5 + ["fine grade1"] * 5
    annotator = Annotator(lm, DEFAULT, batch_size=2, max_consecutive_failures=3)
    results = annotator.annotate(texts)
    assert len(results) == 10 and all(r.score is None for r in results)
    assert annotator.stopped and "3 failed documents in a row" in annotator.stopped
    assert all(r.error == annotator.stopped for r in results[4:])
    assert sum(lm.calls) < 10 + 5  # the stopped documents were never sent


def test_documents_are_cut_for_the_prompt():
    assert cut("short", 100) == "short"
    long = "word " * 100
    assert len(cut(long, 52)) <= 52 and not cut(long, 52).endswith(" ")
    prompt = DEFAULT.prompt(cut("ζ" * 5000, 300))
    assert prompt[0]["content"].count("ζ") == 300


def test_rubric_file_placeholder_and_hash(tmp_path):
    appended = Rubric.from_text("Rate the recipe quality.", "r.txt")
    assert appended.template.startswith("Rate the recipe quality.") and PLACEHOLDER in appended.template
    placed = Rubric.from_text("Text: {document}\nJSON {\"braces\": kept}. Score 0-5:", "p.txt")
    content = placed.prompt("hello {document}")[0]["content"]
    assert content == "Text: hello {document}\nJSON {\"braces\": kept}. Score 0-5:"
    assert appended.hash != placed.hash and len(DEFAULT.hash) == 16 and DEFAULT.hash == Rubric(DEFAULT.template).hash
    with pytest.raises(ValueError, match="empty"):
        Rubric.from_text("  \n", "e.txt")


def test_table_has_one_row_per_document_with_model_and_prompt_hash(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", _docs(4))
    documents = sample_documents([str(path)], None).documents
    annotations = Annotator(FakeLM(), DEFAULT).annotate(documents.column("text").to_pylist())
    table = annotation_table(documents, annotations, "fake:m", DEFAULT.hash, "logprobs")
    assert table.column("model").to_pylist() == ["fake:m"] * 4
    assert set(table.column("prompt_hash").to_pylist()) == {DEFAULT.hash}
    with pytest.raises(ValueError, match="3 annotations for 4"):
        annotation_table(documents, annotations[:3], "fake:m", DEFAULT.hash, "logprobs")


# ------------------------------------------------------------------ command line


@pytest.fixture
def fake_lm(monkeypatch):
    lm = FakeLM()
    monkeypatch.setattr(annotate_module, "load_lm", lambda config: lm)
    return lm


def test_cli_writes_every_sampled_document_and_a_summary(tmp_path, fake_lm):
    inputs = write_jsonl(tmp_path / "in.jsonl", [*_docs(12), {"id": "bad", "text": "boom"}])
    out = tmp_path / "labels.parquet"
    result = CliRunner().invoke(main, ["annotate", str(inputs), "-o", str(out), "-n", "0", "--lm", "n_threads=1"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert len(rows) == 13 and rows["bad"]["score"] is None and "choked" in rows["bad"]["error"]
    assert rows["doc5"]["answer"] == 5 and rows["doc5"]["model"] == "llamacpp:smollm2-135m-instruct"
    summary = json.loads((tmp_path / "labels.annotate.json").read_text())
    assert summary["documents"] == 13 and summary["scored"] == 12 and summary["failed"] == 1
    assert summary["prompt_hash"] == DEFAULT.hash and summary["lm"]["n_threads"] == 1 and fake_lm.closed
    assert "api_key" not in summary["lm"]
    assert "12 scored, 1 failed" in result.output


def test_cli_jsonl_output_choice_method_and_own_rubric(tmp_path, fake_lm):
    inputs = write_jsonl(tmp_path / "in.jsonl", _docs(6))
    rubric = tmp_path / "rubric.txt"
    rubric.write_text("Is this about cooking?\n{document}\nDigit 0-5:")
    out = tmp_path / "labels.jsonl"
    result = CliRunner().invoke(main, ["annotate", str(inputs), "-o", str(out), "-n", "4", "--seed", "3",
                                       "--method", "choice", "--rubric", str(rubric)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and all(r["method"] == "choice" and r["probabilities"] is None for r in rows)
    assert {r["prompt_hash"] for r in rows} == {Rubric.from_file(str(rubric)).hash}
    assert all(r["score"] == int(r["text"][-1]) for r in rows)


def test_cli_stops_after_repeated_failures_but_writes_everything(tmp_path, fake_lm):
    inputs = write_jsonl(tmp_path / "in.jsonl", [{"id": f"b{i}", "text": "boom"} for i in range(6)])
    out = tmp_path / "labels.parquet"
    result = CliRunner().invoke(main, ["annotate", str(inputs), "-o", str(out), "--max-failures", "2"])
    assert result.exit_code == 1 and "failed documents in a row" in result.output and "--lm" in result.output
    assert pq.read_table(out).num_rows == 6


def test_cli_interrupted_run_marks_the_rest(tmp_path, monkeypatch):
    class Interrupting(FakeLM):
        def choice_logprobs(self, prompts, choices):
            if any("grade3" in m["content"] for p in prompts for m in p):
                raise KeyboardInterrupt
            return super().choice_logprobs(prompts, choices)

    monkeypatch.setattr(annotate_module, "load_lm", lambda config: Interrupting())
    inputs = write_jsonl(tmp_path / "in.jsonl", _docs(6))
    out = tmp_path / "labels.parquet"
    result = CliRunner().invoke(main, ["annotate", str(inputs), "-o", str(out), "-n", "0", "--batch-size", "1"])
    assert result.exit_code == 130
    errors = pq.read_table(out).column("error").to_pylist()
    assert len(errors) == 6 and errors.count(annotate_module.INTERRUPTED) >= 1 and None in errors


def test_cli_help_explains_the_command():
    result = CliRunner().invoke(main, ["annotate", "--help"])
    assert result.exit_code == 0
    for phrase in ("--rubric", "{document}", "logprobs", "--lm KEY=VALUE", "train-classifier --kind head"):
        assert phrase in result.output


@pytest.mark.parametrize("args, message", [
    (["--lm", "colour=blue"], "unknown parameter 'colour'"),
    (["--lm", "backend=gpt"], "backend"),
    (["--lm", "nonsense"], "expected KEY=VALUE"),
])
def test_cli_rejects_bad_lm_settings(tmp_path, fake_lm, args, message):
    inputs = write_jsonl(tmp_path / "in.jsonl", _docs(2))
    result = CliRunner().invoke(main, ["annotate", str(inputs), "-o", str(tmp_path / "o.parquet"), *args])
    assert result.exit_code == 2 and message in result.output
    assert "Valid parameters" in result.output or "KEY=VALUE" in result.output


def test_cli_errors_say_what_to_do(tmp_path, monkeypatch):
    inputs = write_jsonl(tmp_path / "in.jsonl", _docs(2))
    runner = CliRunner()
    bad_suffix = runner.invoke(main, ["annotate", str(inputs), "-o", str(tmp_path / "o.csv")])
    assert bad_suffix.exit_code == 1 and ".parquet or .jsonl" in bad_suffix.output
    missing = runner.invoke(main, ["annotate", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "o.parquet")])
    assert missing.exit_code == 1 and "input path not found" in missing.output
    no_text = runner.invoke(main, ["annotate", str(inputs), "-o", str(tmp_path / "o.parquet"), "--text-field",
                                   "body"])
    assert no_text.exit_code == 1 and "--text-field" in no_text.output

    def unloadable(config):
        raise LMError("no such model")

    monkeypatch.setattr(annotate_module, "load_lm", unloadable)
    failed = runner.invoke(main, ["annotate", str(inputs), "-o", str(tmp_path / "o.parquet")])
    assert failed.exit_code == 1 and "cannot load the model: no such model" in failed.output


# ------------------------------------------------------------------ the real default model


SHORT_DOCS = ["Photosynthesis is how plants turn light, water and carbon dioxide into sugar and oxygen. "
              "The light reactions happen in the thylakoid membranes of the chloroplast.",
              "WIN A FREE CRUISE!!! Click here now, offer ends tonight!!!",
              "lol my cat just sat on my keyboard again"]


@pytest.fixture(scope="module")
def smol_lm():
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (make install-test installs it)")
    from curate.lm import LMConfig, load_lm

    lm = load_lm(LMConfig(n_ctx=2048), threads=2)
    yield lm
    lm.close()


@pytest.mark.slow
@pytest.mark.model
def test_smollm2_scores_three_short_documents(smol_lm):
    by_logprobs = Annotator(smol_lm, DEFAULT, "logprobs").annotate(SHORT_DOCS)
    by_choice = Annotator(smol_lm, DEFAULT, "choice").annotate(SHORT_DOCS)
    for annotation in by_logprobs:
        assert annotation.error is None and 0 <= annotation.score <= 5
        assert sum(annotation.probabilities) == pytest.approx(1.0, abs=1e-5) and 0 <= annotation.answer <= 5
    for annotation in by_choice:
        assert annotation.error is None and annotation.raw.strip() in {"0", "1", "2", "3", "4", "5"}
        assert annotation.score == float(annotation.answer)
    again = Annotator(smol_lm, DEFAULT, "logprobs").annotate(SHORT_DOCS[:1])
    assert again[0].score == pytest.approx(by_logprobs[0].score, abs=1e-4)  # deterministic
