import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from curate.io.writer import WriterConfig, write_dropped, write_output
from curate.stage import mark_drops
from tests.conftest import documents


def test_shards_are_cut_by_rows_named_in_order_and_readable_with_polars(tmp_path):
    parts = tmp_path / "parts"
    parts.mkdir()
    table = mark_drops(documents([f"doc {i}" for i in range(25)]), [i % 5 == 0 for i in range(25)], "test")
    pq.write_table(table.slice(0, 10), parts / "a.parquet")
    extra = table.slice(10).append_column("score", pa.array([1.0] * 15))
    pq.write_table(extra, parts / "b.parquet")
    files = sorted(str(p) for p in parts.iterdir())
    out = tmp_path / "out"
    shards = write_output(files, str(out), WriterConfig(rows_per_shard=8, row_group_rows=3))
    assert [s["path"] for s in shards] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert [s["rows"] for s in shards] == [8, 8, 4]
    frame = pl.scan_parquet(str(out / "*.parquet")).collect()
    assert frame.columns == ["id", "text", "source", "meta", "score"]
    assert frame["id"].to_list() == [f"d{i}" for i in range(25) if i % 5]
    assert pq.ParquetFile(out / "part-00000.parquet").metadata.num_row_groups == 3

    dropped = write_dropped([("teststage", files)], str(out / "_dropped"), WriterConfig())
    frame = pl.read_parquet(str(out / "_dropped" / "*.parquet"))
    assert dropped[0]["rows"] == 5 and set(frame["stage"]) == {"teststage"} and set(frame["reason"]) == {"test"}
    assert frame.columns == ["id", "stage", "reason", "detail", "duplicate_of", "text", "source", "meta"]


def test_rewriting_removes_stale_shards(tmp_path):
    parts = tmp_path / "p.parquet"
    pq.write_table(documents(["a", "b", "c"]), parts)
    write_output([str(parts)], str(tmp_path / "out"), WriterConfig(rows_per_shard=1))
    write_output([str(parts)], str(tmp_path / "out"), WriterConfig(rows_per_shard=5))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-00000.parquet"]
