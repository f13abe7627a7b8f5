import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.documents import MAX_CHILDREN, RECORD_BITS, order_of, position_of
from curate.io import reader
from curate.io.reader import InputError, ReaderConfig, read_file, resolve_inputs
from curate.stage import DROP_DETAIL, DROP_REASON, ORDER
from tests.conftest import write_jsonl


def read_all(path, **config) -> pa.Table:
    files = resolve_inputs([str(path)])
    tables = [t for i, f in enumerate(files) for t in read_file(i, f, ReaderConfig(**config))]
    return pa.concat_tables(tables)


BAD_LINES = [
    ({"id": "ok", "text": "a good document", "lang": "en"}, None),
    ('{"id": "x", "text": "unterminated', "malformed_json"),
    ("[1, 2, 3]", "not_an_object"),
    ({"id": "m"}, "missing_text"),
    ({"id": "n", "text": None}, "null_text"),
    ({"id": "s", "text": 42}, "non_string_text"),
    ({"id": "e", "text": "  \n "}, "empty_text"),
    (b'{"id": "u", "text": "caf\xe9"}', "invalid_utf8"),
]


def test_each_bad_record_is_quarantined_with_reason_and_position(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [record for record, _ in BAD_LINES])
    table = read_all(path)
    assert table.num_rows == len(BAD_LINES)
    assert table.column(DROP_REASON).to_pylist() == [reason for _, reason in BAD_LINES]
    details = table.column(DROP_DETAIL).to_pylist()
    assert details[1].startswith("in.jsonl:2: malformed JSON")
    assert details[7].startswith("in.jsonl:8: invalid UTF-8")
    good = table.slice(0, 1).to_pylist()[0]
    assert good["id"] == "ok" and good["text"] == "a good document" and json.loads(good["meta"]) == {"lang": "en"}
    assert good["source"] == "in.jsonl"
    # the quarantined record's raw line is kept so nothing is lost
    assert "unterminated" in table.column("text")[1].as_py()


def test_strict_stops_at_first_bad_record_naming_file_and_line(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": "fine"}, "{broken", {"text": "never read"}])
    with pytest.raises(InputError, match=r"in.jsonl:2: malformed JSON"):
        read_all(path, strict=True)


def test_invalid_utf8_can_be_repaired(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [b'{"text": "caf\xe9 au lait"}'])
    table = read_all(path, utf8_errors="replace")
    assert table.column(DROP_REASON).to_pylist() == [None]
    assert table.column("text")[0].as_py() == "caf\ufffd au lait"
    assert table.column("_repaired").to_pylist() == [True]


def test_enormous_document_is_quarantined_not_loaded_into_a_batch(tmp_path):
    big = "word " * (10 * 2**20)  # 50 MB
    path = write_jsonl(tmp_path / "big.jsonl", [{"id": "big", "text": big}, {"id": "small", "text": "tiny doc"}])
    table = read_all(path)
    assert table.column(DROP_REASON).to_pylist() == ["too_large", None]
    assert len(table.column("text")[0].as_py()) > 50 * 10**6  # kept whole for the dropped table


def test_derived_ids_fields_and_compressed_formats(tmp_path):
    records = [{"body": f"text {i}", "src": "web"} for i in range(3)]
    payload = "".join(json.dumps(r) + "\n" for r in records).encode()
    (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(payload))
    table = read_all(tmp_path, text_field="body", source_field="src")
    assert table.column("id").to_pylist() == ["a.jsonl.gz:1", "a.jsonl.gz:2", "a.jsonl.gz:3",
                                              "b.jsonl.zst:1", "b.jsonl.zst:2", "b.jsonl.zst:3"]
    assert set(table.column("source").to_pylist()) == {"web"}
    orders = table.column(ORDER).to_pylist()
    assert orders == sorted(orders) and len(set(orders)) == 6


def test_parquet_input_and_wrong_schema(tmp_path):
    pq.write_table(pa.table({"id": [1, 2], "content": ["first doc", None], "score": [0.5, 0.7]}), tmp_path / "x.parquet")
    table = read_all(tmp_path / "x.parquet", text_field="content")
    assert table.column("id").to_pylist() == ["1", "2"]
    assert table.column(DROP_REASON).to_pylist() == [None, "null_text"]
    assert json.loads(table.column("meta")[0].as_py()) == {"score": 0.5}
    with pytest.raises(InputError, match="no column 'text'; columns are id, content, score"):
        read_all(tmp_path / "x.parquet")


@pytest.mark.parametrize("suffix", ["zst", "gz"])
def test_truncated_compressed_file_is_recorded(tmp_path, suffix):
    lines = b"".join(b'{"text": "document %d with some words"}\n' % i for i in range(20000))
    payload = zstandard.ZstdCompressor().compress(lines) if suffix == "zst" else gzip.compress(lines)
    path = tmp_path / f"cut.jsonl.{suffix}"
    path.write_bytes(payload[: len(payload) // 2])
    table = read_all(path)
    reasons = table.column(DROP_REASON).to_pylist()
    assert reasons[-1] == "unreadable_file" and reasons.count(None) == len(reasons) - 1
    assert position_of(table.column(ORDER)[-1].as_py()) == (0, (1 << RECORD_BITS) - 1)
    with pytest.raises(InputError, match="cannot be read to the end"):
        read_all(path, strict=True)


def test_multi_frame_zstd(tmp_path):
    frames = b"".join(zstandard.ZstdCompressor().compress(b'{"text": "part %d"}\n' % i) for i in range(3))
    (tmp_path / "m.jsonl.zst").write_bytes(frames)
    assert read_all(tmp_path / "m.jsonl.zst").column("text").to_pylist() == ["part 0", "part 1", "part 2"]


def test_resolve_inputs_globs_folders_and_errors(tmp_path):
    (tmp_path / "sub").mkdir()
    write_jsonl(tmp_path / "sub" / "a.jsonl", [{"text": "x"}])
    write_jsonl(tmp_path / "b.jsonl", [{"text": "y"}])
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "_skip").mkdir()
    write_jsonl(tmp_path / "_skip" / "c.jsonl", [{"text": "z"}])
    assert [f.name for f in resolve_inputs([str(tmp_path)])] == ["b.jsonl", "sub/a.jsonl"]
    assert [f.name for f in resolve_inputs([str(tmp_path / "sub" / "*.jsonl")])] == ["a.jsonl"]
    assert [f.name for f in resolve_inputs([str(tmp_path)], exclude=str(tmp_path / "sub"))] == ["b.jsonl"]
    with pytest.raises(InputError, match="input path not found"):
        resolve_inputs([str(tmp_path / "missing")])
    with pytest.raises(InputError, match="no JSONL, Parquet or WARC files"):
        resolve_inputs([str(tmp_path / "notes.txt")])


def _compress(payload: bytes, suffix: str) -> bytes:
    if suffix == "gz":
        return gzip.compress(payload)
    if suffix == "zst":
        return zstandard.ZstdCompressor().compress(payload)
    return payload


@pytest.mark.parametrize("suffix", ["", "gz", "zst"])
@pytest.mark.parametrize("strict", [False, True])
def test_byte_order_marks_at_line_starts_are_skipped(tmp_path, suffix, strict):
    bom = b"\xef\xbb\xbf"
    payload = (bom + b'{"id": "a", "text": "first"}\n'
               + b'{"id": "b", "text": "second"}\n'
               + bom + b'{"id": "c", "text": "third"}\n'
               + bom + b"\n"  # a line holding only a mark is blank
               + b'{"id": "d", "text": "\xef\xbb\xbffourth"}\n')
    path = tmp_path / ("in.jsonl" + (f".{suffix}" if suffix else ""))
    path.write_bytes(_compress(payload, suffix))
    table = read_all(path, strict=strict)
    assert table.column("id").to_pylist() == ["a", "b", "c", "d"]
    assert table.column(DROP_REASON).to_pylist() == [None] * 4
    # a mark inside the text is the text's own (the normalize stage removes it)
    assert table.column("text").to_pylist() == ["first", "second", "third", "\ufefffourth"]


def test_order_layout_leaves_room_for_created_rows():
    order = order_of(3, 7)
    assert position_of(order) == (3, 7)
    assert position_of(order + MAX_CHILDREN) == (3, 7)
    assert order + MAX_CHILDREN < order_of(3, 8) < order_of(4, 1)
    last = order_of(2**20 - 1, (1 << RECORD_BITS) - 1) + MAX_CHILDREN
    assert last < 2**63 and position_of(last) == (2**20 - 1, (1 << RECORD_BITS) - 1)


def test_reader_orders_are_file_and_line_positions(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"text": "one"}, "", {"text": "three"}])
    write_jsonl(tmp_path / "b.jsonl", [{"text": "only"}])
    orders = read_all(tmp_path).column(ORDER).to_pylist()
    assert [position_of(o) for o in orders] == [(0, 1), (0, 3), (1, 1)]


def test_file_with_too_many_records_must_be_split(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "UNREADABLE_RECORD", 3)
    write_jsonl(tmp_path / "two.jsonl", [{"text": "a"}, {"text": "b"}])
    assert read_all(tmp_path / "two.jsonl").num_rows == 2
    write_jsonl(tmp_path / "three.jsonl", [{"text": "a"}, {"text": "b"}, {"text": "c"}])
    with pytest.raises(InputError, match="three.jsonl: too many records .* split it"):
        read_all(tmp_path / "three.jsonl")
    pq.write_table(pa.table({"text": ["a", "b", "c"]}), tmp_path / "three.parquet")
    with pytest.raises(InputError, match="three.parquet: too many records .* split it"):
        read_all(tmp_path / "three.parquet")


def test_too_many_input_files(tmp_path, monkeypatch):
    monkeypatch.setattr(reader, "MAX_FILES", 1)
    write_jsonl(tmp_path / "a.jsonl", [{"text": "a"}])
    assert len(resolve_inputs([str(tmp_path)])) == 1
    write_jsonl(tmp_path / "b.jsonl", [{"text": "b"}])
    with pytest.raises(InputError, match="2 input files, at most 1"):
        resolve_inputs([str(tmp_path)])
    file = resolve_inputs([str(tmp_path / "b.jsonl")])[0]
    with pytest.raises(InputError, match="file index 1 out of range"):
        list(read_file(1, file, ReaderConfig()))
