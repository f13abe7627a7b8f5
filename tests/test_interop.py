"""Document shards and packed token shards read unchanged by polars, pyarrow.dataset and Hugging Face datasets."""

from __future__ import annotations

import glob
import importlib.util
import os

import polars as pl
import pyarrow.dataset as ds
import pytest

from curate.feed.pack import PackConfig, pack_output
from curate.feed.tokenizer import load_tokenizer
from tests.feed_output import build_output, train_tokenizer


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("interop")
    out = str(root / "out")
    truth = build_output(out, documents=90)
    tokenizer = load_tokenizer(train_tokenizer(str(root / "tok")))
    fixed = pack_output(out, PackConfig(seq_len=64, metadata="domain", metadata_share=0.5), tokenizer=tokenizer)
    buckets = pack_output(out, PackConfig(seq_len=64, min_bucket=16, buckets=True, output=str(root / "buckets")),
                          tokenizer=tokenizer)
    return out, str(root / "buckets"), truth, fixed, buckets


def test_polars_and_pyarrow_read_documents_and_packed_rows(folders):
    out, buckets, truth, fixed, bucketed = folders
    documents = pl.scan_parquet(os.path.join(out, "*.parquet")).collect()
    assert documents["id"].to_list() == truth["ids"]
    packed = pl.scan_parquet(os.path.join(out, "_packed", "*.parquet")).collect()
    assert packed.height == fixed.sequences and packed["input_ids"].list.len().unique().to_list() == [64]
    assert packed.schema["input_ids"] == pl.List(pl.Int32)
    rows = pl.scan_parquet(os.path.join(buckets, "**", "*.parquet")).collect()
    assert rows.height == bucketed.sequences

    table = ds.dataset(os.path.join(out, "_packed"), format="parquet").to_table()
    assert table.num_rows == fixed.sequences and table.column_names == packed.columns
    assert ds.dataset(buckets, format="parquet").count_rows() == bucketed.sequences  # nested length folders
    assert ds.dataset(out, format="parquet", exclude_invalid_files=True).schema.field("text")  # documents too


def test_hugging_face_datasets_loads_the_shards(folders, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets", reason="Hugging Face datasets is in the test extra")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out, buckets, truth, fixed, _ = folders
    cache = str(tmp_path / "hf")
    packed = datasets.load_dataset("parquet", data_files=sorted(glob.glob(os.path.join(out, "_packed", "*.parquet"))),
                                   split="train", cache_dir=cache)
    assert len(packed) == fixed.sequences and len(packed[0]["input_ids"]) == 64
    assert packed.with_format("numpy")[:2]["input_ids"].shape == (2, 64)
    if importlib.util.find_spec("torch") is not None:  # the full install; the light one has no PyTorch
        assert tuple(packed.with_format("torch")[:2]["input_ids"].shape) == (2, 64)
    documents = datasets.load_dataset("parquet", data_files=os.path.join(out, "*.parquet"), split="train",
                                      cache_dir=cache)
    assert documents["id"] == truth["ids"]
