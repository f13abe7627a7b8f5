"""fastText classifiers: training, the classify stage, thresholds and bad input (tiny models, no Ray)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

from curate.classify.metrics import binary_metrics, roc_auc
from curate.classify.train import TrainParams, split_examples, train_classifier
from curate.config import ConfigError, parse_pipeline
from curate.engine.plan import plan
from curate.stage import DROP_DETAIL, DROP_REASON, GlobalStage, MapStage
from curate.stages.classify import Classify
from curate.stages.percentile_cut import PercentileCut
from curate.tables import drop_mask
from tests.classify_models import BAD, GOOD, examples, shared_model
from tests.conftest import documents, write_jsonl


@pytest.fixture(scope="module")
def model() -> str:
    return shared_model()


def test_training_writes_model_and_metrics(model):
    metrics = json.loads(open(os.path.splitext(model)[0] + ".metrics.json").read())
    assert metrics["labels"] == ["hq", "lq"] and metrics["positive_label"] == "hq"
    validation = metrics["validation"]
    assert validation["examples"] == 60 and validation["roc_auc"] > 0.95 and validation["f1"] > 0.9
    assert set(validation) >= {"precision", "recall", "f1", "roc_auc"}


def test_split_is_seeded_and_never_shares_a_text():
    data = examples(100) + examples(20)  # the second call repeats 20 texts
    train, valid = split_examples(data, 0.25, seed=3)
    assert (train, valid) == split_examples(data, 0.25, seed=3)
    assert not {t for t, _ in train} & {t for t, _ in valid}
    assert len(train) + len(valid) == len({t for t, _ in data})


def test_metrics_against_hand_computed_values():
    positive = np.array([1, 1, 0, 0, 1], bool)
    scores = np.array([0.9, 0.4, 0.6, 0.1, 0.8])
    assert roc_auc(positive, scores) == pytest.approx(5 / 6)
    m = binary_metrics(positive, scores)
    assert (m["precision"], m["recall"]) == (pytest.approx(2 / 3, abs=1e-4), pytest.approx(2 / 3, abs=1e-4))
    assert roc_auc(np.array([1, 1], bool), np.array([0.1, 0.2])) is None


def test_cli_trains_a_quantised_model_and_validates_on_other_files(tmp_path):
    from curate.cli import main

    rng_good = [{"text": t} for t, lab in examples(300, seed=5) if lab == "hq"]
    rng_bad = [{"text": t} for t, lab in examples(300, seed=5) if lab == "lq"]
    write_jsonl(tmp_path / "good.jsonl", rng_good)
    write_jsonl(tmp_path / "bad.jsonl", rng_bad)
    held_out = [{"text": t, "label": "positive" if lab == "hq" else "negative"} for t, lab in examples(40, seed=9)]
    write_jsonl(tmp_path / "other.jsonl", held_out)
    out = tmp_path / "m.ftz"
    result = CliRunner().invoke(main, ["train-classifier", "--positive", str(tmp_path / "good.jsonl"), "--negative",
                                       str(tmp_path / "bad.jsonl"), "--validate-on", str(tmp_path / "other.jsonl"),
                                       "-o", str(out), "--dim", "16", "--bucket", "5000", "--cutoff", "500"])
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and "ROC AUC" in result.output
    metrics = json.loads((tmp_path / "m.metrics.json").read_text())
    assert metrics["validation"]["examples"] == 40 and metrics["validation"]["roc_auc"] > 0.9
    assert out.stat().st_size < 200_000  # quantised
    bad = CliRunner().invoke(main, ["train-classifier", "--data", str(tmp_path / "good.jsonl"), "-o", str(out)])
    assert bad.exit_code != 0 and "label" in bad.output


def test_classify_scores_every_label_or_one_named_column(model):
    table = documents([" ".join(GOOD), " ".join(BAD)])
    per_label, stats = Classify(model=model).process_batch(table)
    assert {"score_hq", "score_lq"} <= set(per_label.column_names)
    hq = per_label.column("score_hq").to_numpy()
    assert hq[0] > 0.8 > 0.2 > hq[1]
    np.testing.assert_allclose(hq + per_label.column("score_lq").to_numpy(), 1.0, atol=1e-3)
    one, _ = Classify(model=model, label="hq", column="good").process_batch(table)
    assert "good" in one.column_names and "score_lq" not in one.column_names
    assert stats["scored"] == 2


def test_absolute_threshold_drops_annotates_and_inverts(model):
    table = documents([" ".join(GOOD), " ".join(BAD), "methods " * 3])
    dropped, stats = Classify(model=model, label="hq", threshold=0.5, reason="low").process_batch(table)
    assert drop_mask(dropped).tolist() == [False, True, False]
    assert dropped.column(DROP_REASON)[1].as_py() == "low"
    assert dropped.column(DROP_DETAIL)[1].as_py().startswith("score_hq=")
    assert stats["failed"] == 1
    inverse, _ = Classify(model=model, label="hq", threshold=0.5, keep="below").process_batch(table)
    assert drop_mask(inverse).tolist() == [True, False, True]
    annotated, _ = Classify(model=model, label="hq", threshold=0.5, mode="annotate").process_batch(table)
    assert not drop_mask(annotated).any()
    assert annotated.column("classify_reason").to_pylist() == [None, "classifier_score", None]


def _with_languages(table, languages):
    return table.append_column("language", pa.array(languages, pa.string()))


def test_languages_scopes_scoring_and_dropping(model):
    """Documents of other languages (or none) pass unscored: a model trained on English never judges them."""
    texts = [" ".join(GOOD), " ".join(BAD), " ".join(BAD), " ".join(BAD)]
    table = _with_languages(documents(texts), ["en", "en", "de", None])
    out, stats = Classify(model=model, label="hq", column="good", threshold=0.5, languages=["en"]).process_batch(table)
    assert drop_mask(out).tolist() == [False, True, False, False]
    good = out.column("good").to_pylist()
    assert good[0] > 0.5 > good[1] and good[2:] == [None, None]
    assert stats["scored"] == 2 and stats["skipped_language"] == 2
    per_label, _ = Classify(model=model, languages=["de"]).process_batch(table)
    assert per_label.column("score_hq").null_count == 3 and per_label.column("score_lq").null_count == 3
    none, stats = Classify(model=model, label="hq", threshold=0.5, languages=["fr"]).process_batch(table)
    assert not drop_mask(none).any() and stats["scored"] == 0 and stats.get("score_sum", 0) == 0
    dictionary = documents(texts).append_column("language", pa.array(["en", "en", "de", None]).dictionary_encode())
    assert drop_mask(Classify(model=model, label="hq", threshold=0.5, languages=["en"]).process_batch(dictionary)[0]
                     ).tolist() == [False, True, False, False]
    with pytest.raises(ValueError, match="run the language stage before"):
        Classify(model=model, label="hq", threshold=0.5, languages=["en"]).process_batch(documents(texts))


def test_bad_input_gets_scores(model):
    texts = ["", "   \n\t ", "\x00\x01\x02\xff\ufffd" * 20, "日本語のテキストです。", "Привет мир", None,
             "line one\nline two\r\nthree\u2028four"]
    table = documents([t or "" for t in texts])
    out, _ = Classify(model=model).process_batch(table)
    scores = out.column("score_hq").to_numpy()
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    from curate.classify.fasttext_model import load_model, predict_scores
    assert predict_scores(load_model(model), [None, ""]).shape == (2, 2)


def test_missing_or_damaged_model_is_a_config_error_naming_the_path(tmp_path, model):
    missing = tmp_path / "nope.bin"
    with pytest.raises(ConfigError, match=str(missing)):
        parse_pipeline({"stages": [{"classify": {"model": str(missing)}}]})
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"not a model" * 100)
    with pytest.raises(ConfigError, match=str(garbage)):
        parse_pipeline({"stages": [{"classify": {"model": str(garbage)}}]})
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(open(model, "rb").read()[:2000])
    with pytest.raises(ConfigError, match="truncated.bin"):
        parse_pipeline({"stages": [{"classify": {"model": str(truncated)}}]})
    with pytest.raises(ConfigError, match="label 'nope' is not a label"):
        parse_pipeline({"stages": [{"classify": {"model": model, "label": "nope"}}]})
    with pytest.raises(ConfigError, match="not both"):
        parse_pipeline({"stages": [{"classify": {"model": model, "label": "hq", "threshold": 0.5, "percentile": 5}}]})


def test_a_percentile_adds_a_global_cut_after_the_map_scores(model):
    absolute = Classify(model=model, label="hq", threshold=0.5)
    stage = Classify(model=model, label="hq", percentile=50)
    assert type(stage) is Classify and isinstance(stage, MapStage) and stage.params.percentile == 50
    assert absolute.decompose() == [absolute]
    score, cut = stage.decompose()
    assert score is stage and isinstance(cut, PercentileCut) and isinstance(cut, GlobalStage)
    assert cut.name == "classify" and cut.columns == ("_order", "score_hq") and cut.params == stage.params
    assert [(s.kind, [x.name for x in s.stages]) for s in plan([stage])] == [("chain", ["classify"]),
                                                                             ("global", ["classify"])]
    assert isinstance(pickle.loads(pickle.dumps(stage)), Classify)
    assert pickle.loads(pickle.dumps(cut)).column == "score_hq"
    table = documents([" ".join(GOOD), " ".join(BAD)])
    scored, stats = stage.process_batch(table)
    assert not drop_mask(scored).any() and "failed" not in stats  # the map step only scores
    marks = cut.marks(scored.select(["_order", "score_hq"]), cut=0.5)
    assert marks.column(DROP_REASON).to_pylist() == [None, "classifier_score"]
    assert "score_hq" not in marks.column_names  # the scores are already on the documents


def test_training_rejects_bad_requests(tmp_path):
    with pytest.raises(ValueError, match="positive label"):
        train_classifier(examples(20), str(tmp_path / "m.bin"), "nope", params=TrainParams(quantize=False))
    with pytest.raises(ValueError, match="two labels"):
        train_classifier([(t, "hq") for t, _ in examples(20)], str(tmp_path / "m.bin"), "hq",
                         params=TrainParams(quantize=False))


@pytest.mark.ray
def test_percentile_cut_is_taken_over_the_whole_data_set(ray_session, tmp_path, model):
    """Each input file is one unit; a per-unit percentile would drop half of each file instead of all of one."""
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.manifest import read_manifest
    from curate.runner import Runner
    from tests.classify_models import sentence

    rng = random.Random(7)
    good = write_jsonl(tmp_path / "good.jsonl", [{"id": f"g{i}", "text": sentence(rng, GOOD)} for i in range(30)])
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": f"b{i}", "text": sentence(rng, BAD)} for i in range(30)])
    out = tmp_path / "out"
    stage = Classify(model=model, label="hq", column="good", percentile=50)
    Runner([str(good), str(bad)], str(out), [stage]).run()
    kept = pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet")))
    dropped = pa.concat_tables(pq.read_table(p) for p in sorted((out / "_dropped").glob("*.parquet")))
    assert sorted(kept.column("id").to_pylist()) == sorted(f"g{i}" for i in range(30))
    assert set(dropped.column("id").to_pylist()) == {f"b{i}" for i in range(30)}
    assert set(dropped.column("reason").to_pylist()) == {"classifier_score"}
    assert kept.column("good").null_count == 0
    manifest = read_manifest(str(out))
    assert [(s.index, s.name, s.kind) for s in manifest.stages] == [(0, "read", "read"), (1, "classify", "map+global")]
    record = manifest.stages[1]
    assert record.stats["scored"] == 60 and record.stats["failed"] == 30 and record.stats["cut"] > 0
    assert (record.documents_in, record.documents_out, record.dropped) == (60, 30, {"classifier_score": 30})
    assert manifest.documents.dropped_by_stage == {"01-classify": 30}


@pytest.mark.ray
def test_percentile_cut_ignores_documents_of_other_languages(ray_session, tmp_path, model):
    import random

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.manifest import read_manifest
    from curate.runner import Runner
    from curate.stages.language import Language
    from tests.classify_models import sentence

    rng = random.Random(8)
    rows = [{"id": f"g{i}", "text": sentence(rng, GOOD)} for i in range(20)]
    rows += [{"id": f"b{i}", "text": sentence(rng, BAD)} for i in range(20)]
    rows += [{"id": f"x{i}", "text": "Der Bericht beschreibt die Methoden und die Ergebnisse sorgfältig."}
             for i in range(20)]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    stage = Classify(model=model, label="hq", column="good", percentile=50, languages=["en"])
    out = tmp_path / "out"
    Runner([str(path)], str(out), [Language(keep=None, min_score=None), stage]).run()
    kept = pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet")))
    dropped = pa.concat_tables(pq.read_table(p) for p in sorted((out / "_dropped").glob("*.parquet")))
    languages = dict(zip(kept.column("id").to_pylist(), kept.column("language").to_pylist()))
    scores = dict(zip(kept.column("id").to_pylist(), kept.column("good").to_pylist()))
    german = [i for i in languages if i.startswith("x")]
    assert len(german) == 20 and {languages[i] for i in german} == {"de"}  # kept, never scored
    assert all(scores[i] is None for i in languages if languages[i] != "en")
    assert all(scores[i] is not None for i in languages if languages[i] == "en")
    record = next(s for s in read_manifest(str(out)).stages if s.name == "classify")
    in_scope = sum(lang == "en" for lang in languages.values()) + dropped.num_rows
    assert record.stats["scored"] == in_scope and record.stats["skipped_language"] == 60 - in_scope
    assert record.stats["failed"] == dropped.num_rows and in_scope // 2 - 1 <= dropped.num_rows <= in_scope // 2 + 1
