"""``embed``: one embedding pass that heads and ``icp_reorder`` read; the column leaves the output unless kept."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.classify.linear_head import LinearHead, load_head
from curate.config import ConfigError, parse_pipeline
from curate.icp.embed import HashingEmbedder
from curate.models import shipped
from curate.runner import Runner
from curate.stages.classify_embedding import ClassifyEmbedding
from curate.stages.embed import Embed, embedding_rows
from curate.stages.icp_reorder import IcpReorder
from curate.stages.quality import Quality
from curate.stages.toxicity import Toxicity
from curate.tables import drop_mask
from tests.conftest import documents, topic_records, write_jsonl

BAD_TEXTS = ["A plain sentence about the weather.", "", "   ", "\x00\x01 binary \ufffd", "日本語の文です。",
             "word", "x" * 1_000_000, "Another sentence, about trains and rain."]


def _head(tmp_path, dim: int = 64, embedder: str = "hashing-64", seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    head = LinearHead(weights=rng.normal(size=dim).astype(np.float32), bias=0.0, labels=("clean", "toxic"),
                      embedder=embedder, max_tokens=32)
    path = str(tmp_path / "head.npz")
    head.save(path)
    return path


def test_embed_writes_unit_vectors_for_any_text():
    out, stats = Embed(embedder="hashing", hashing_dim=64).process_batch(documents(BAD_TEXTS))
    vectors, present = embedding_rows(out, "embedding", "test")
    assert present.all() and vectors.shape == (len(BAD_TEXTS), 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors, HashingEmbedder(dim=64).embed(BAD_TEXTS))
    assert stats == {"embedded": len(BAD_TEXTS), "blank": 2}
    assert Embed(embedder="hashing").working_columns() == ("embedding",)
    assert Embed(embedder="hashing", keep=True).working_columns() == ()


def test_head_reads_the_embedding_column_and_decides(tmp_path):
    embedded, _ = Embed(embedder="hashing", hashing_dim=64).process_batch(documents(BAD_TEXTS))
    stage = ClassifyEmbedding(model=_head(tmp_path), threshold=0.5)
    out, stats = stage.process_batch(embedded)
    scores = out.column("embedding_score").to_numpy()
    vectors, _ = embedding_rows(embedded, "embedding", "test")
    expected = stage.params.model_path()
    from curate.classify.linear_head import load_head

    np.testing.assert_allclose(scores, load_head(expected).score(vectors), rtol=1e-6)
    assert drop_mask(out).tolist() == (scores >= 0.5).tolist() and stats["failed"] == int((scores >= 0.5).sum())


def test_rows_without_an_embedding_are_not_scored(tmp_path):
    embedded, _ = Embed(embedder="hashing", hashing_dim=64).process_batch(documents(BAD_TEXTS[:3]))
    column = embedded.column("embedding").combine_chunks()
    holed = embedded.set_column(embedded.schema.get_field_index("embedding"), "embedding",
                                pa.array([column[0].as_py(), None, column[2].as_py()], column.type))
    out, stats = ClassifyEmbedding(model=_head(tmp_path), threshold=0.0).process_batch(holed)
    assert out.column("embedding_score").is_null().to_pylist() == [False, True, False]
    assert drop_mask(out).tolist() == [True, False, True] and stats["scored"] == 2


def test_a_head_without_an_embedding_column_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="put an embed stage before it"):
        ClassifyEmbedding(model=_head(tmp_path)).process_batch(documents(["text"]))


def test_quality_and_toxicity_take_a_head_as_model(tmp_path):
    embedded, _ = Embed(embedder="hashing", hashing_dim=64).process_batch(documents(BAD_TEXTS))
    out, _ = Quality(model=_head(tmp_path), label="toxic", threshold=None).process_batch(embedded)
    assert out.column("quality_score").null_count == 0
    out, _ = Toxicity(model=_head(tmp_path), label="toxic", threshold=0.5).process_batch(embedded)
    assert drop_mask(out).tolist() == (out.column("toxicity_score").to_numpy() >= 0.5).tolist()
    with pytest.raises(ConfigError, match="level: document"):
        parse_pipeline({"stages": [{"toxicity": {"model": _head(tmp_path), "label": "toxic", "level": "sentence"}}]})


def test_a_head_of_another_embedding_space_is_a_config_error(tmp_path):
    head = _head(tmp_path, embedder="all-MiniLM-L6-v2")
    with pytest.raises(ConfigError, match="fitted on all-MiniLM-L6-v2 embeddings.*hashing-64"):
        parse_pipeline({"stages": [{"embed": {"embedder": "hashing", "hashing_dim": 64}},
                                   {"classify_embedding": {"model": head}}]})
    parse_pipeline({"stages": [{"embed": {"embedder": "hashing", "hashing_dim": 64}},
                               {"classify_embedding": {"model": _head(tmp_path)}}]})


def test_a_corrupt_head_is_a_config_error_naming_the_path(tmp_path):
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ConfigError, match="broken.npz"):
        parse_pipeline({"stages": [{"embed": {}}, {"quality": {"model": str(broken), "label": "toxic"}}]})


@pytest.fixture
def corpus(tmp_path):
    return str(write_jsonl(tmp_path / "in.jsonl", topic_records(45, 80)))


def _rows(out) -> list[dict]:
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet"))).to_pylist()


@pytest.mark.slow
def test_one_embedding_pass_feeds_heads_and_the_order(ray_session, tmp_path, corpus):
    """The order from the stored column equals the order icp_reorder computes itself; the column is left out."""
    head = _head(tmp_path, dim=256, embedder="hashing-256")
    shared = Runner([corpus], str(tmp_path / "shared"), [
        Embed(embedder="hashing", hashing_dim=256),
        ClassifyEmbedding(model=head),
        IcpReorder(embedding_column="embedding", k=8, context_tokens=400)]).run()
    alone = Runner([corpus], str(tmp_path / "alone"), [
        IcpReorder(embedder="hashing", hashing_dim=256, k=8, context_tokens=400)]).run()
    rows = _rows(tmp_path / "shared")
    assert [r["id"] for r in rows] == [r["id"] for r in _rows(tmp_path / "alone")]
    assert "embedding" not in rows[0] and rows[0]["embedding_score"] is not None
    assert shared.stages[-1].stats["embedder"] == "column embedding"
    assert shared.stages[-1].stats["adjacent_similarity"] == alone.stages[-1].stats["adjacent_similarity"]
    assert shared.documents.balanced and shared.documents.output == 45
    kept = Runner([corpus], str(tmp_path / "kept"), [Embed(embedder="hashing", hashing_dim=32, keep=True)]).run()
    assert kept.documents.output == 45 and len(_rows(tmp_path / "kept")[0]["embedding"]) == 32


@pytest.mark.slow
def test_icp_without_stored_embeddings_says_where_to_put_embed(ray_session, tmp_path, corpus):
    from curate.errors import StageError

    with pytest.raises(StageError, match="embed stage"):
        Runner([corpus], str(tmp_path / "out"), [IcpReorder(embedding_column="embedding")]).run()


@pytest.mark.slow
def test_a_changed_head_file_recomputes_the_stage(ray_session, tmp_path, corpus):
    head = _head(tmp_path, dim=64, embedder="hashing-64")
    stages = [Embed(embedder="hashing", hashing_dim=64), ClassifyEmbedding(model=head)]
    first = Runner([corpus], str(tmp_path / "out"), stages).run()
    again = Runner([corpus], str(tmp_path / "out"), stages).run()
    assert [s.resumed for s in again.stages] == [True, True, True]
    LinearHead(weights=np.ones(64, np.float32), bias=0.0, labels=("clean", "toxic"), embedder="hashing-64",
               max_tokens=32).save(head)
    changed = Runner([corpus], str(tmp_path / "out"), stages).run()
    assert [s.resumed for s in changed.stages] == [True, True, False]
    assert first.documents.output == changed.documents.output == 45


@pytest.mark.model
def test_minilm_embed_stage_scores_bad_input_with_the_shipped_head():
    """Empty, one-word, non-English and 1 MB documents: unit vectors and finite scores, never an exception."""
    embedded, stats = Embed(max_tokens=64, precision="float32").process_batch(documents(BAD_TEXTS))
    vectors, present = embedding_rows(embedded, "embedding", "test")
    assert present.all() and vectors.shape == (len(BAD_TEXTS), 384) and np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    out, _ = ClassifyEmbedding().process_batch(embedded)
    out, _ = Quality().process_batch(out)      # the shipped quality head
    out, _ = Toxicity(mode="annotate").process_batch(out)  # the shipped hate head, at its stored cut
    for column in ("embedding_score", "quality_score", "toxicity_score"):
        scores = out.column(column).to_numpy()
        assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()
    assert Toxicity().params.threshold == load_head(shipped("hate_minilm.npz")).threshold
