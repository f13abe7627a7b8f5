"""The default ``blocks`` preset: the shipped classifier, edits that never cut a sentence, no model needed."""

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


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["", "a few words here", "x", "It ends here.", "Starts a sentence and goes on and on",
                                 "and finishes it.", "    code = 1"]), max_size=25), st.data())
def test_removals_are_block_edges_or_runs_between_whole_sentences(lines, data):
    probabilities = {i: data.draw(st.floats(0, 1)) for i, line in enumerate(lines) if line.strip()}
    removed = block_removals(lines, probabilities, data.draw(st.floats(0.05, 0.95)))
    for first, last in blocks(lines):
        kept = [i for i in range(first, last + 1) if i not in removed]
        for before, after in zip(kept, kept[1:]):
            if after > before + 1:  # an inner run went: only between whole sentences
                assert lines[before].rstrip().endswith(".") and lines[after].strip()[:1].isupper()
                assert not lines[before][:1].isspace() and not lines[after][:1].isspace()
                assert lines[after - 1] != "Starts a sentence and goes on and on"
    assert all(lines[i].strip() for i in removed)


def test_a_banner_glued_between_sentences_goes_and_one_inside_a_sentence_stays():
    banner = ["Stay in the loop!", "Join 20,000 readers and receive our monthly digest.", "Register now"]
    hits = {i: 1.0 for i in range(1, 4)}
    between = ["The parser reads one record at a time.", *banner, "Each record ends with a newline."]
    assert block_removals(between, hits, 0.5) == {1, 2, 3}
    for before, after in [("The options are:", "Each record ends."),  # a list follows
                          ("The parser reads one record at a", "time."),  # the sentence goes on
                          ('    Load "glx"', "EndSection"),  # verbatim text
                          ('  SubSection "dri"  # loaded by default.', "EndSection")]:
        assert block_removals([before, *banner, after], hits, 0.5) == set(), (before, after)


NEWS = ["Council approves new library budget", "",
        "The city council approved the budget for the new central library on Tuesday, ending a debate that had "
        "lasted for most of the year.", "",
        "Members voted eleven to four in favour. The building will open in the spring of next year if the roof is "
        "finished in March.", "",
        "Opponents said the money would have been better spent on repairing roads, but the mayor called the vote a "
        "good day for the city."]


@pytest.mark.parametrize("copies", [2, 8])
def test_a_duplicated_document_is_not_taken_for_chrome(copies):
    """Every line of a document that occurs several times in the corpus repeats: that is duplication (which
    deduplication handles), not a site's chrome, and the document is judged as if seen once."""
    head = default_head()
    repeats = LineRepeats.from_texts(["\n".join(NEWS)] * copies + ["\n".join(PAGE)])
    removed = block_removals(NEWS, head.probabilities(NEWS, repeats.line_counts(NEWS)), head.threshold)
    assert not removed, [NEWS[i] for i in removed]


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


@pytest.mark.ray
def test_with_max_documents_prepare_counts_the_chosen_documents_lines_alone(ray_session):
    import ray

    pages = [*_site(6), "unrelated\nStart » Documentation » Community » Download", "lone\nlone line"]
    table = documents(pages)
    stage = Rewrite(max_documents=2)
    stage.prepare(ray.data.from_arrow(table).repartition(3))
    full = LineRepeats.from_texts(pages)
    chosen = [page for doc_id, page in zip(table.column("id").to_pylist(), pages) if doc_id in stage.selected]
    lines = [line for page in chosen for line in page.split("\n")]
    assert len(stage.selected) == 2
    assert stage.repeats.line_counts(lines) == full.line_counts(lines)
    assert len(stage.repeats) <= len(full)
