import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from curate.io.writer import ShardWriter, WriterConfig, conform, dropped_table, output_schema
from curate.stage import DROP_STAGE
from curate.tables import mark_drops
from tests.conftest import documents


def test_shards_are_cut_by_rows_named_in_order_and_readable_with_polars(tmp_path):
    first = documents([f"doc {i}" for i in range(10)])
    second = documents([f"doc {i}" for i in range(10, 25)], ids=[f"d{i}" for i in range(10, 25)])
    second = second.append_column("score", pa.array([1.0] * 15))
    schema = output_schema(pa.unify_schemas([first.schema, second.schema], promote_options="permissive"))
    writer = ShardWriter(str(tmp_path / "out"), schema, WriterConfig(rows_per_shard=8, row_group_rows=3))
    for table in (first, second):
        writer.write(conform(table, schema))
    shards = writer.close()
    assert [s["path"] for s in shards] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet",
                                           "part-00003.parquet"]
    assert [s["rows"] for s in shards] == [8, 8, 8, 1]
    frame = pl.scan_parquet(str(tmp_path / "out" / "*.parquet")).collect()
    assert frame.columns == ["id", "text", "source", "meta", "score"]
    assert frame["id"].to_list() == [f"d{i}" for i in range(25)]
    assert pq.ParquetFile(tmp_path / "out" / "part-00000.parquet").metadata.num_row_groups == 3
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_groups_are_never_split_across_shards(tmp_path):
    table = documents([f"doc {i}" for i in range(20)]).append_column("context_id", pa.array([i // 3 for i in range(20)]))
    schema = output_schema(table.schema)
    writer = ShardWriter(str(tmp_path / "out"), schema, WriterConfig(rows_per_shard=4), group_column="context_id")
    for offset in range(0, 20, 5):  # group runs also cross the tables handed to the writer
        writer.write(conform(table.slice(offset, 5), schema))
    shards = writer.close()
    groups = [pq.read_table(tmp_path / "out" / s["path"]).column("context_id").to_pylist() for s in shards]
    assert sum(len(g) for g in groups) == 20
    for earlier, later in zip(groups, groups[1:]):
        assert earlier[-1] != later[0]
    assert all(len(g) >= 4 for g in groups[:-1])


def test_rewriting_removes_stale_shards(tmp_path):
    table = documents(["a", "b", "c"])
    schema = output_schema(table.schema)
    for rows in (1, 5):
        writer = ShardWriter(str(tmp_path / "out"), schema, WriterConfig(rows_per_shard=rows))
        writer.write(conform(table, schema))
        writer.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-00000.parquet"]


def test_dropped_table_shape():
    table = mark_drops(documents(["a", "b"]), [True, False], "test", detail=["why", None])
    table = table.filter(pa.array([True, False]))
    table = table.append_column(DROP_STAGE, pa.array(["teststage"]))
    rows = dropped_table(table).to_pylist()
    assert rows == [{"id": "d0", "stage": "teststage", "reason": "test", "detail": "why", "duplicate_of": None,
                     "text": "a", "source": "test", "meta": None}]
