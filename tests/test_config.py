import pytest

from curate.config import ConfigError, load_pipeline, parse_pipeline


def test_parse_stages_defaults_and_repeats():
    config = parse_pipeline({"stages": ["normalize", {"length_filter": {"min_words": 3}}, {"length_filter": {"max_chars": 10}}]})
    stages = config.build_stages()
    assert [s.name for s in stages] == ["normalize", "length_filter", "length_filter"]
    assert stages[1].params.min_words == 3 and stages[2].params.max_chars == 10


def test_unknown_stage_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown stage 'lenght_filter'; valid stages: .*length_filter"):
        parse_pipeline({"stages": [{"lenght_filter": {}}]})


def test_unknown_parameter_lists_valid_parameters():
    with pytest.raises(ConfigError, match=r"stage 1 \(length_filter\): unknown parameter 'min_wrds'.*min_words"):
        parse_pipeline({"stages": [{"length_filter": {"min_wrds": 3}}]})


def test_bad_values_and_top_level_keys():
    with pytest.raises(ConfigError, match="min_words"):
        parse_pipeline({"stages": [{"length_filter": {"min_words": "many"}}]})
    with pytest.raises(ConfigError, match="unknown top-level key"):
        parse_pipeline({"stage": []})
    with pytest.raises(ConfigError, match="reader: unknown parameter 'txt_field'"):
        parse_pipeline({"reader": {"txt_field": "x"}, "stages": []})


def test_overrides_by_name_position_reader_writer():
    config = parse_pipeline(
        {"stages": [{"length_filter": {}}, {"length_filter": {}}]},
        ["length_filter.min_words=4", "2.max_chars=100", "reader.text_field=body", "writer.rows_per_shard=7"],
    )
    first, second = config.build_stages()
    assert first.params.min_words == 4 and second.params.min_words == 4 and second.params.max_chars == 100
    assert config.reader.text_field == "body" and config.writer.rows_per_shard == 7
    with pytest.raises(ConfigError, match="no stage 'exact_dedup'"):
        parse_pipeline({"stages": ["normalize"]}, ["exact_dedup.lowercase=false"])
    with pytest.raises(ConfigError, match="expected STAGE.PARAM=VALUE"):
        parse_pipeline({"stages": ["normalize"]}, ["normalize"])


def test_config_hash_ignores_output_but_not_params():
    a = parse_pipeline({"output": "x", "stages": [{"length_filter": {"min_words": 3}}]})
    b = parse_pipeline({"output": "y", "stages": [{"length_filter": {"min_words": 3}}]})
    c = parse_pipeline({"output": "x", "stages": [{"length_filter": {"min_words": 4}}]})
    assert a.config_hash() == b.config_hash() != c.config_hash()


def test_load_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [normalize\n  - x: {")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_pipeline(str(bad))
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="pipeline file not found"):
        load_pipeline(str(tmp_path / "none.yaml"))


def test_default_pipeline_is_valid():
    config = load_pipeline("pipelines/default.yaml")
    assert config.input == ["data/sample"] and config.build_stages()
