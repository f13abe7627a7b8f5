"""``pack:`` in a pipeline: validated with the rest of the file, run as the last step of ``curate run``."""

from __future__ import annotations

import os

import pytest

from curate.config import ConfigError, parse_pipeline
from curate.feed.pack import PACKED, read_pack_manifest
from tests.conftest import write_jsonl
from tests.feed_output import train_tokenizer


def test_pack_options_are_validated_with_the_pipeline():
    config = parse_pipeline({"stages": ["normalize"], "pack": {"seq_len": 512, "metadata": "domain"}})
    assert config.pack.seq_len == 512 and config.to_dict()["pack"]["metadata"] == "domain"
    assert parse_pipeline({"stages": ["normalize"]}).pack is None
    assert "pack" not in parse_pipeline({"stages": ["normalize"]}).to_dict()  # unchanged hash without packing
    with pytest.raises(ConfigError, match="powers of two"):
        parse_pipeline({"stages": ["normalize"], "pack": {"seq_len": 1000, "buckets": True}})
    with pytest.raises(ConfigError, match="unknown parameter 'seqlen'.*seq_len"):
        parse_pipeline({"stages": ["normalize"], "pack": {"seqlen": 512}})
    with pytest.raises(ConfigError, match="mapping"):
        parse_pipeline({"stages": ["normalize"], "pack": 512})


@pytest.mark.ray
def test_run_packs_its_output_as_the_last_step(ray_session, tmp_path):
    from curate.runner import run_pipeline

    records = [{"id": f"d{i}", "text": f"document number {i} about data curation and token packing " * (1 + i % 5)}
               for i in range(40)]
    write_jsonl(tmp_path / "in.jsonl", records + [{"id": "copy", "text": records[0]["text"]}])
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    config = parse_pipeline({"input": str(tmp_path / "in.jsonl"), "output": str(tmp_path / "out"),
                             "stages": ["normalize", "exact_dedup"],
                             "pack": {"tokenizer": tokenizer, "seq_len": 64}})
    manifest = run_pipeline(config)
    packed = read_pack_manifest(os.path.join(tmp_path, "out", PACKED))
    assert manifest.documents.output == packed.documents == 40
    assert packed.sequences * 64 == packed.document_tokens + packed.padding_tokens
