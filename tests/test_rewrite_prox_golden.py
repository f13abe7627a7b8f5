"""``preset: prox`` executes chunk programs as ProX's own executor does.

Every expected text below was written out from ProX's reference code
(GAIR-NLP/ProX ``utils/chunk_utils.py``: ``execute_operations`` and
``execute_meta_operations`` with threshold_1 0.0, threshold_2 0.95, error_op 2,
as ``data_gen/tasks/apply_chunk_refining.py`` calls them on the chunk programs
of a document joined by newlines), not from curate's output:

* ``normalize`` is a find-and-replace over the whole document, whatever chunk
  the program came from; a source that does not occur is a no-op;
* ``remove_lines`` ranges apply anywhere in the document; after merging
  overlapping or touching ranges, one that starts or ends past the last line
  is one error; two errors keep the original text;
* ``remove_lines(all=True)`` removes every line;
* a result of at most 10 words is dropped even when nothing was edited and even
  with two errors; at most 5% of the words left is dropped when errors < 2.
"""

import pytest

from curate.rewriting.prox_executor import execute_prox, merged_ranges
from curate.stages.rewrite import RewriteParams, Rewriter
from tests.conftest import documents
from tests.test_rewrite_stage import ScriptedLM

PAGE = [
    "Home | News | Sport | Contact",
    "Skip to main content",
    "Local library extends its opening hours",
    "By Anna Berg, 12 March 2021",
    "The town library will open until 9 pm on weekdays from next month, the council said on Tuesday.",
    "The change follows a survey in which most readers asked for evening hours.",
    "&nbsp;Staff will be added to cover the late shifts.",
    "Share this article: Facebook Twitter Email",
    "Related: Swimming pool closes for repairs",
    "Read more&gt;&gt;",
    "© 2021 Town Gazette. All rights reserved.",
    "Cookie settings",
]
SHORT = ["Opening hours", "Mon-Fri 9-21, Sat 10-16"]
DROPPED = None  # ProX returns "" (the document is dropped)

# name: (document lines, one program per chunk, ProX's resulting lines or DROPPED, ProX's error count)
CASES = {
    "valid": (PAGE, ["remove_lines(line_start=0, line_end=1)",
                     'normalize(source_str="&nbsp;", target_str="")\nremove_lines(line_start=7, line_end=11)'],
              ["Local library extends its opening hours",
               "By Anna Berg, 12 March 2021",
               "The town library will open until 9 pm on weekdays from next month, the council said on Tuesday.",
               "The change follows a survey in which most readers asked for evening hours.",
               "Staff will be added to cover the late shifts."], 0),
    # each chunk removes lines of the other chunk: applied, no error
    "out_of_chunk_ranges": (PAGE, ["remove_lines(line_start=10, line_end=11)", "remove_lines(line_start=0, line_end=1)"],
                            PAGE[2:10], 0),
    # two misses (no-ops), a replacement in the other chunk's lines, a target longer than its source
    "misses_and_document_wide_normalize": (
        PAGE, ['normalize(source_str="Click here to subscribe", target_str="")\n'
               'normalize(source_str="&gt;", target_str=">")',
               'normalize(source_str="Sport", target_str="Sports")\nnormalize(source_str="Cookies", target_str="")'],
        ["Home | News | Sports | Contact", *PAGE[1:9], "Read more>>", *PAGE[10:]], 0),
    "all_true": (PAGE, ["keep_chunk()", "remove_lines(all=True)"], DROPPED, 0),
    # two ranges past the end: two errors, so the original text is kept
    "past_end_twice": (PAGE, ["keep_chunk()", "remove_lines(line_start=10, line_end=14)\n"
                                              "remove_lines(line_start=20, line_end=25)"], PAGE, 2),
    # prose is ignored; two overlapping ranges merge into one that runs past the end: one error, line 11 removed
    "past_end_once_and_prose": (PAGE, ["The chunk is clean.", "remove_lines(line_start=11, line_end=13)\n"
                                                              "remove_lines(line_start=12, line_end=15)"],
                                PAGE[:11], 1),
    "inverted_range": (PAGE, ["remove_lines(line_start=5, line_end=3)", "keep_chunk()"], PAGE, 0),
    "ten_words_or_fewer_unchanged": (SHORT, ["keep_chunk()"], DROPPED, 0),
    "ten_words_or_fewer_after_two_errors": (SHORT, ["remove_lines(line_start=5, line_end=6)\n"
                                                    "remove_lines(line_start=9, line_end=9)"], DROPPED, 2),
}

STATUS = {"edited", "unchanged", "emptied", "fallback"}


@pytest.mark.parametrize("name", list(CASES))
def test_stage_matches_proxs_executor_line_by_line(name):
    lines, programs, expected, errors = CASES[name]
    text = "\n".join(lines)
    lm = ScriptedLM(list(programs))
    params = RewriteParams(preset="prox", document_level=False, chunk_tokens=60 if lines is PAGE else 1500)
    row = Rewriter(params, lm).process(documents([text])).to_pylist()[0]
    assert len(lm.prompts) == len(programs)  # one chunk per program, as the cases are written
    if len(programs) == 2:
        assert "[005]" in lm.prompts[0] and "[006]" in lm.prompts[1]  # chunks 0..5 and 6..11
    assert row["rewrite_parse_errors"] + row["rewrite_exec_errors"] == errors
    if expected is DROPPED:
        assert row["rewrite_status"] == "emptied" and row["_drop_reason"] == "rewrite_emptied"
    elif expected == lines:
        assert row["rewrite_status"] == ("fallback" if errors >= 2 else "unchanged")
        assert row["text"].split("\n") == lines
    else:
        assert row["rewrite_status"] == "edited"
        assert row["text"].split("\n") == expected


def test_executor_alone_counts_proxs_errors_and_no_ops():
    run = execute_prox(PAGE, [(0, 5), (6, 11)], ['normalize(source_str="absent", target_str="")\nexplain()',
                                                 "remove_lines(line_start=30, line_end=31)\ndrop_doc()"])
    assert run.removed == set() and len(run.exec_errors) == 1 and run.parse_errors == []
    assert run.ignored == 3  # the miss, the unknown statement, the document-level call
    assert merged_ranges([(8, 9), (1, 2), (3, 4), (10, 8)]) == [(1, 4), (8, 9)]  # (10, 8) touches (8, 9)
