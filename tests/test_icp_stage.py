"""``icp_reorder`` through the runner: every document once, contexts whole, related documents together."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.io.writer import WriterConfig
from curate.runner import Runner
from curate.stages.icp_reorder import IcpReorder
from curate.stages.normalize import Normalize
from tests.conftest import TOPICS, topic_records, write_jsonl

pytestmark = pytest.mark.slow

@pytest.fixture
def corpus(tmp_path):
    """Documents of three topics, interleaved, plus one near-copy."""
    records = topic_records(60, 120)
    records.append({"id": "zz-copy", "text": records[0]["text"] + " bake", "source": "cooking"})
    return str(write_jsonl(tmp_path / "in.jsonl", records))


def _rows(out) -> list[dict]:
    return pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("*.parquet"))).to_pylist()


def test_reorder_keeps_every_document_once_and_groups_topics(ray_session, tmp_path, corpus):
    out = tmp_path / "out"
    stage = IcpReorder(embedder="hashing", k=10, context_tokens=600, dedup_threshold=0.95, keep_embeddings=True)
    manifest = Runner([corpus], str(out), [Normalize(), stage], writer=WriterConfig(rows_per_shard=7)).run()
    rows = _rows(out)
    dropped = pa.concat_tables(pq.read_table(p) for p in (out / "_dropped").glob("*.parquet")).to_pylist()
    assert [(r["id"], r["reason"], r["duplicate_of"]) for r in dropped] == [
        ("zz-copy", "semantic_duplicate", "cooking-00")]
    assert sorted(r["id"] for r in rows) == sorted(f"{t}-{i:02d}" for i, t in zip(range(60), list(TOPICS) * 20))
    # related documents are adjacent: most neighbours along the path share the topic
    same = sum(a["source"] == b["source"] for a, b in zip(rows, rows[1:]))
    assert same >= 0.9 * (len(rows) - 1)
    # contexts are consecutive, numbered in order, within the token budget, and never split across shards
    contexts = [r["context_id"] for r in rows]
    assert contexts == sorted(contexts) and contexts[0] == 0
    assert [r["position"] for r in rows if r["context_id"] == 0] == list(range(contexts.count(0)))
    shards = [pq.read_table(out / s.path).column("context_id").to_pylist() for s in manifest.output.shards]
    for earlier, later in zip(shards, shards[1:]):
        assert earlier[-1] != later[0]
    stats = manifest.stages[-1].stats
    assert stats["repeats"] == 0 and stats["missing"] == 0 and stats["semantic_duplicates"] == 1
    assert stats["adjacent_similarity"] > stats["random_similarity"]
    assert manifest.documents.balanced and manifest.output.group_column == "context_id"
    assert len(rows[0]["embedding"]) == 1024 and stats["embedder"] == "hashing"


def test_same_input_same_order(ray_session, tmp_path, corpus):
    orders = []
    for name in ("a", "b"):
        Runner([corpus], str(tmp_path / name), [IcpReorder(embedder="hashing", k=5)]).run()
        orders.append([r["id"] for r in _rows(tmp_path / name)])
    assert orders[0] == orders[1]
