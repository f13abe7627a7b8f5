"""The PyTorch examples of docs/feeding.md run as written, on a small output packed like `curate pack out/default`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchdata.stateful_dataloader")

from curate.feed.pack import PackConfig, pack_output  # noqa: E402
from tests.feed_output import build_output, train_tokenizer  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "feeding.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("contexts", [True, False])
def test_the_training_example_runs_and_resumes(tmp_path, monkeypatch, capsys, contexts):
    out = tmp_path / "out" / "default"
    build_output(str(out), documents=120, contexts=contexts)
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    pack = pack_output(str(out), PackConfig(tokenizer=tokenizer, seq_len=64, metadata="domain"))
    assert pack.attention == ("causal" if contexts else "document")  # both branches of the example run
    example = next(block for block in _python_blocks() if "StatefulDataLoader" in block)
    assert "StatefulDataLoader" in example and "load_state_dict" in example
    monkeypatch.chdir(tmp_path)
    exec(compile(example, str(DOC), "exec"), {"__name__": "feeding_example"})
    printed = capsys.readouterr().out
    assert "5 steps, loss" in printed and "5 more steps, loss" in printed
    assert (tmp_path / "checkpoint.pt").exists()


def test_the_documents_example_runs(tmp_path, monkeypatch):
    out = tmp_path / "out" / "default"
    build_output(str(out), documents=60)
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    example = next(block for block in _python_blocks() if 'tokenizer="default"' in block)
    example = example.replace('tokenizer="default"', f"tokenizer={tokenizer!r}")
    assert "CurateDataset" in example
    monkeypatch.chdir(tmp_path)
    exec(compile(example, str(DOC), "exec"), {"__name__": "feeding_example"})


def test_the_readme_snippets_run_after_a_pipeline(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from curate.cli import main

    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    shell = next(block for block in re.findall(r"```bash\n(.*?)```", readme, re.S) if "curate report" in block)
    python = next(block for block in _python_blocks_of(readme) if "CurateDataset" in block)
    out = tmp_path / "out" / "default"
    build_output(str(out), documents=60)
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    monkeypatch.chdir(tmp_path)
    for line in shell.splitlines():  # the same commands, with a small tokenizer instead of SmolLM2's
        args = line.split("#")[0].split()[1:]
        result = CliRunner().invoke(main, [*args, "--tokenizer", tokenizer])
        assert result.exit_code == 0, result.output
    assert (out / "report.html").exists() and (out / "_packed" / "_pack.json").exists()
    namespace: dict = {}
    exec(compile("import polars as pl\n" + python, "README.md", "exec"), namespace)
    assert len(namespace["docs"]) == 60 and len(namespace["rows"]) == namespace["packed"].collect().height


def _python_blocks_of(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def test_the_bucket_sampler_example_runs(tmp_path, monkeypatch):
    out = tmp_path / "out" / "default"
    build_output(str(out), documents=120, contexts=False)
    tokenizer = train_tokenizer(str(tmp_path / "tok"))
    pack_output(str(out), PackConfig(tokenizer=tokenizer, seq_len=64, min_bucket=8, buckets=True,
                                     output=str(tmp_path / "out" / "dd")))
    example = next(block for block in _python_blocks() if "BucketBatches" in block)
    example = example.replace("8 * 8192", "128")  # the same call, sized for the small pack
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "feeding_example"}
    exec(compile(example, str(DOC), "exec"), namespace)
    batch = namespace["batch"]
    assert batch["input_ids"].numel() == 128 and batch["input_ids"].shape[1] == batch["length"]
