"""Nothing curate reads runs code: pipeline YAML, LM output and model files are data, never executed.

Each test plants a payload that would create a marker file if it ran, and checks
that the input is refused (or treated as data) and the marker never appears.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from curate.config import load_pipeline, parse_pipeline
from curate.errors import ConfigError
from curate.rewriting.program import decide_document, execute, parse_program


class Payload:
    """Unpickling this runs ``open(marker, "w")``: the marker exists only if a loader executed the pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_yaml_tags_that_run_code_are_refused(tmp_path):
    marker = tmp_path / "ran"
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(f'stages:\n  - normalize: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_pipeline(str(pipeline))
    assert not marker.exists()


@pytest.mark.parametrize("program", [
    "__import__('os').system('touch {marker}')",
    "open('{marker}', 'w')",
    "remove_lines(line_start=__import__('os').system('touch {marker}'), line_end=2)",
    "exec(\"open('{marker}', 'w')\")",
    "normalize(source_str=[c for c in ().__class__.__bases__[0].__subclasses__()], target_str='')",
])
def test_lm_programs_are_parsed_never_executed(tmp_path, program):
    marker = tmp_path / "ran"
    text = program.format(marker=marker)
    parsed = parse_program(text)
    assert not parsed.calls and (parsed.errors or parsed.unknown)
    assert decide_document(text).drop is False
    lines = ["first line", "second line", "third line"]
    kept = execute(lines, [(0, 2)], [text])
    assert not marker.exists()
    assert kept is not None


def test_a_head_file_holding_pickled_objects_is_refused(tmp_path):
    marker = tmp_path / "ran"
    head = tmp_path / "head.npz"
    np.savez(head, weights=np.array([Payload(marker)], dtype=object), bias=np.zeros(1))
    with pytest.raises(ConfigError, match="head.npz"):
        parse_pipeline({"stages": [{"embed": {}}, {"quality": {"model": str(head), "label": "hq"}}]})
    assert not marker.exists()


@pytest.mark.model
def test_an_embedding_folder_with_pickled_weights_runs_no_code(tmp_path):
    from curate.icp.embed import EmbedderError, MiniLMEmbedder, default_model_path

    marker = tmp_path / "ran"
    folder = tmp_path / "model"
    shutil.copytree(default_model_path(), folder)
    (folder / "model.safetensors").unlink()
    with open(folder / "pytorch_model.bin", "wb") as handle:
        pickle.dump({"embeddings.word_embeddings.weight": Payload(marker)}, handle)
    with pytest.raises(EmbedderError, match="cannot load embedding model"):
        MiniLMEmbedder(model=str(folder), threads=1)
    assert not marker.exists()
