"""The default ``blocks`` preset: the shipped classifier, edits only at block edges, no model needed."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.rewriting.block_head import block_removals, default_head
from curate.rewriting.features import NAMES, blocks, document_features
from curate.rewriting.repeats import LineRepeats
from curate.stages.rewrite import Rewrite, RewriteParams, Rewriter
from tests.conftest import documents

PROSE = [
    "The committee met on Tuesday to discuss the budget for the coming year, and most of",
    "its members agreed that the figures needed an independent audit before any vote could",
    "take place. The chair said the audit would be finished within a month.",
    "",
    "Several members asked whether the new library would still open in the spring. The",
    "answer was that the builders expected to finish the roof in March, weather permitting.",
]
# written by hand: what a reader calls navigation and footer
PAGE = ["Home | News | Sport | Weather | Contact", "Local news > Council", "", *PROSE, "",
        "Share: Facebook Twitter Email", "", "© 2021 Example Gazette. All rights reserved.",
        "Privacy policy | Terms of use | Cookies"]
BOILERPLATE = {0, 1, 10, 12, 13}


def test_the_shipped_classifier_removes_navigation_and_keeps_every_prose_line():
    head = default_head()
    removed = block_removals(PAGE, head.probabilities(PAGE), head.threshold)
    prose = {i for i, line in enumerate(PAGE) if line in PROSE and line}
    assert not removed & prose
    assert len(removed & BOILERPLATE) >= 4, [PAGE[i] for i in BOILERPLATE - removed]


def test_features_have_one_value_per_name_and_skip_blank_lines():
    index, rows = document_features(PAGE)
    assert index == [i for i, line in enumerate(PAGE) if line.strip()]
    assert all(len(row) == len(NAMES) for row in rows)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["", "a few words here", "x"]), max_size=25), st.data())
def test_removals_are_whole_blocks_or_block_edges(lines, data):
    probabilities = {i: data.draw(st.floats(0, 1)) for i, line in enumerate(lines) if line.strip()}
    removed = block_removals(lines, probabilities, data.draw(st.floats(0.05, 0.95)))
    for first, last in blocks(lines):
        kept = [i for i in range(first, last + 1) if i not in removed]
        if kept:  # what is kept of a block is one contiguous run: no inner line goes
            assert kept == list(range(kept[0], kept[-1] + 1))
    assert all(lines[i].strip() for i in removed)


def test_the_default_preset_needs_no_model():
    stage = Rewrite()
    assert stage.params.preset == "blocks" and stage.resources.num_gpus == 0
    stage.setup()
    text = "\n".join(PAGE)
    out, stats = stage.process_batch(documents([text, "short note"]))
    rows = out.to_pylist()
    assert rows[0]["rewrite_status"] == "edited" and all(line in rows[0]["text"] for line in PROSE)
    assert rows[1]["text"] == "short note" and rows[1]["rewrite_status"] == "unchanged"
    assert stats["rewritten"] == 2 and stats["backend_errors"] == 0
    params = RewriteParams(block_threshold=1.0, min_words=0)
    assert Rewriter(params, None).process(documents([text])).to_pylist()[0]["text"] == text


def _site(pages: int) -> list[str]:
    """Pages of one site: the same header and footer blocks around different paragraphs."""
    header = ["Start » Documentation » Community » Download", "Wiki › Notes › Example"]
    footer = ["Join 20,000 readers and receive our monthly digest."]
    out = []
    for k in range(pages):
        body = [f"Page {k} explains how the parser reads its input, one record at a time, and why the",
                f"buffer grows by {k + 2} kilobytes whenever a record is longer than expected."]
        out.append("\n".join([*header, "", *body, "", *footer]))
    return out


def test_line_repeats_count_documents_not_occurrences():
    repeats = LineRepeats.from_texts(["Home\nhome\ntext one", "  HOME \ntext two", "text one"])
    assert repeats.line_counts(["Home", "text one", "text two", "", "never seen"]) == [2, 2, 1, 0, 1]
    assert len(repeats) == 2 and LineRepeats.from_texts(["a", "b"]).line_counts(["a", ""]) == [1, 0]


def test_chrome_repeated_across_pages_is_removed_and_paragraphs_kept():
    pages = _site(6)
    head = default_head()
    repeats = LineRepeats.from_texts(pages)
    lines = pages[0].split("\n")
    alone = block_removals(lines, head.probabilities(lines), head.threshold)
    with_counts = block_removals(lines, head.probabilities(lines, repeats.line_counts(lines)), head.threshold)
    chrome = {0, 1, 6}
    assert with_counts == chrome, [lines[i] for i in with_counts ^ chrome]
    assert 6 not in alone  # the repetition across pages is what finds the sentence-like footer
    stage = Rewriter(RewriteParams(min_words=0), None, repeats=repeats)  # corpus counts, as prepare() makes them
    out = stage.process(documents(pages)).column("text").to_pylist()
    assert all(text.strip().split("\n") == page.split("\n")[3:5] for text, page in zip(out, pages))


@pytest.mark.ray
def test_prepare_counts_lines_over_the_whole_ray_dataset(ray_session):
    import ray

    pages = [*_site(5), "unrelated\nStart » Documentation » Community » Download"]
    stage = Rewrite()
    stage.prepare(ray.data.from_arrow(documents(pages)).repartition(3))
    expected = LineRepeats.from_texts(pages)
    assert stage.repeats.hashes.tolist() == expected.hashes.tolist()
    assert stage.repeats.counts.tolist() == expected.counts.tolist() and len(expected) == 3
