"""train-classifier --kind head: grouped splits, graded labels, and a head fitted on MiniLM embeddings."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.classify.command import Row, cut_labels
from curate.classify.linear_head import load_head
from curate.classify.split import grouped_split, text_group
from curate.cli import main


def test_grouped_split_keeps_groups_together_and_is_seeded():
    groups = [f"g{i % 17}" for i in range(200)]
    held = grouped_split(groups, 0.2, seed=4)
    assert np.array_equal(held, grouped_split(groups, 0.2, seed=4))
    assert not np.array_equal(held, grouped_split(groups, 0.2, seed=5))
    held_groups = {g for g, h in zip(groups, held) if h}
    assert held_groups and not held_groups & {g for g, h in zip(groups, held) if not h}
    assert 0.1 <= held.mean() <= 0.3
    assert grouped_split(["a", "a", "b"], 0.9, seed=0).sum() in (1, 2)  # one group always stays for training
    assert not grouped_split(groups, 0.0, seed=0).any()
    with pytest.raises(ValueError):
        grouped_split(groups, 1.0, seed=0)


def test_text_group_folds_case_and_whitespace():
    assert text_group("Hello  World\n") == text_group("hello world")


def test_numeric_labels_are_cut():
    rows, names = cut_labels([Row("a", "4.5"), Row("b", "1"), Row("c", "3")], 3, "score")
    assert names == ("score<3", "score>=3")
    assert [r.label for r in rows] == ["score>=3", "score<3", "score>=3"] and rows[0].grade == 4.5
    with pytest.raises(ValueError, match="not a number"):
        cut_labels([Row("a", "good")], 3, "score")


def test_head_usage_errors(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "x", "label": 1}\n')
    runner = CliRunner()
    wrong_suffix = runner.invoke(main, ["train-classifier", "--kind", "head", "--data", str(data), "-o",
                                        str(tmp_path / "m.ftz")])
    assert wrong_suffix.exit_code == 2 and ".npz" in wrong_suffix.output
    fasttext_npz = runner.invoke(main, ["train-classifier", "--data", str(data), "-o", str(tmp_path / "m.npz")])
    assert fasttext_npz.exit_code == 2 and ".ftz" in fasttext_npz.output
    mixed = runner.invoke(main, ["train-classifier", "--positive", str(data), "--negative", str(data),
                                 "--positive-from", "3", "-o", str(tmp_path / "m.ftz")])
    assert mixed.exit_code == 2 and "--positive-from" in mixed.output


SUBJECTS = ["photosynthesis", "the water cycle", "plate tectonics", "binary search", "the French Revolution",
            "cell division", "Newton's second law", "supply and demand", "the immune system", "prime numbers"]
ANGLES = ["This chapter explains {s} step by step, with a worked example and exercises at the end.",
          "In this lesson students learn how {s} works and why it matters, starting from first principles.",
          "A clear introduction to {s}: definitions, a diagram, and questions to check your understanding."]
OFFERS = ["cheap watches", "a free cruise", "hot singles", "crypto riches", "a casino bonus",
          "miracle pills", "a gift card", "lottery winnings", "designer bags", "a new iPhone"]
PITCHES = ["WIN {o} NOW!!! click here, offer ends tonight, unsubscribe below", "lol u see this?? {o} for real haha",
           "Dear friend, claim {o} today by sending your bank details to this address"]


def labelled_rows() -> list[dict]:
    rows = []
    for i, (s, angle) in enumerate(itertools.product(SUBJECTS, ANGLES)):
        rows.append({"text": angle.format(s=s), "score": 4.0 + (i % 2), "site": f"edu{i % 5}"})
    for i, (o, pitch) in enumerate(itertools.product(OFFERS, PITCHES)):
        rows.append({"text": pitch.format(o=o), "score": float(i % 2), "site": f"spam{i % 5}"})
    rows.append({"text": "a failed annotation", "score": None, "site": "x"})
    rows.append({"text": rows[0]["text"].upper(), "score": 5.0, "site": "edu0"})  # a near-copy of a training text
    return rows


@pytest.mark.model
def test_head_trained_on_graded_labels_loads_and_separates_held_out_texts(tmp_path):
    data = tmp_path / "labels.parquet"
    pq.write_table(pa.Table.from_pylist(labelled_rows()), data)
    out = tmp_path / "edu.npz"
    result = CliRunner().invoke(main, ["train-classifier", "--kind", "head", "--data", str(data), "--label-field",
                                       "score", "--positive-from", "3", "--group-field", "site",
                                       "--validation-fraction", "0.3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    head = load_head(str(out))
    assert head.embedder == "all-MiniLM-L6-v2" and head.labels == ("score<3", "score>=3") and head.max_tokens == 128
    metrics = json.loads((tmp_path / "edu.metrics.json").read_text())
    validation = metrics["validation"]
    assert metrics["train_examples"] + validation["examples"] == 61  # the row without a score is left out
    assert metrics["split"]["grouped_by"] == "site" and metrics["positive_rule"] == "score >= 3"
    assert 0 < validation["positives"] < validation["examples"]
    assert validation["roc_auc"] > 0.9 and "spearman_with_label" in validation

    from curate.icp.embed import MiniLMEmbedder

    embedder = MiniLMEmbedder(max_tokens=head.max_tokens, threads=1)
    lesson, spam = head.score(embedder.embed([
        "An introduction to fractions for students, with examples and practice questions.",
        "CLICK HERE to claim your free prize!!! limited offer, act now"]))
    assert lesson > 0.5 > spam


def test_fasttext_takes_graded_labels_and_a_group_field_too(tmp_path):
    rows = labelled_rows() * 3  # fastText wants more words; the groups keep the copies on one side
    data = tmp_path / "labels.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "m.bin"
    result = CliRunner().invoke(main, ["train-classifier", "--data", str(data), "--label-field", "score",
                                       "--positive-from", "3", "--group-field", "site", "--no-quantize", "--epoch",
                                       "20", "-o", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.metrics.json").read_text())
    assert metrics["positive_label"] == "score>=3" and metrics["labels"] == ["score<3", "score>=3"]
    assert metrics["validation"]["examples"] > 0
