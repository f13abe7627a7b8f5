"""The rewriting program language: parsing, execution and its failure policy."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.rewriting.program import Call, decide_document, execute, parse_program
from curate.rewriting.prompts import chunk_grammar
from curate.rewriting.prox_executor import execute_prox
from curate.stages.rewrite import pack_chunks, removal_program

LINES = [f"line {i} text" for i in range(10)]


def test_keyword_positional_and_any_quoting():
    program = "\n".join([
        "remove_lines(line_start=1, line_end=2)",
        "remove_lines(4, 5)",
        "remove_lines(7)",
        "normalize(source_str='a, b) = c', target_str=\"x\")",
        'normalize("""tri"ple""", \'\')',
        "normalize(r'raw\\d', target_str=None)",
        "keep_chunk()",
    ])
    parsed = parse_program(program)
    assert parsed.errors == []
    assert parsed.calls == [
        Call("remove_lines", {"line_start": 1, "line_end": 2}),
        Call("remove_lines", {"line_start": 4, "line_end": 5}),
        Call("remove_lines", {"line_start": 7, "line_end": 7}),
        Call("normalize", {"source_str": "a, b) = c", "target_str": "x"}),
        Call("normalize", {"source_str": 'tri"ple', "target_str": ""}),
        Call("normalize", {"source_str": "raw\\d", "target_str": ""}),
        Call("keep_chunk", {}),
    ]


def test_leading_zeros_and_brackets_as_shown_in_the_prompt():
    parsed = parse_program("remove_lines(line_start=007, line_end=[012])\nnormalize('007', '7')")
    assert parsed.errors == []
    assert parsed.calls[0].args == {"line_start": 7, "line_end": 12}
    assert parsed.calls[1].args == {"source_str": "007", "target_str": "7"}


def test_never_evaluates_and_rejects_non_whitelisted_calls():
    parsed = parse_program("__import__('os').system('touch /tmp/x')\nopen('f')\nremove_lines(1+1, 3)\nx = 3")
    assert parsed.calls == []
    assert len(parsed.errors) + len(parsed.unknown) == 4 and len(parsed.errors) == 1  # remove_lines(1+1, 3)


def test_one_broken_line_does_not_hide_the_others():
    parsed = parse_program("remove_lines(0, 1)\nremove_lines(line_start=2, line_end=\nkeep_chunk()")
    assert [c.name for c in parsed.calls] == ["remove_lines", "keep_chunk"]
    assert len(parsed.errors) == 1


@pytest.mark.parametrize("program", [
    "remove_lines(1, 2, 3)", "remove_lines(line_start=1, line_start=2)", "remove_lines(foo=1)",
    "remove_lines('1', 2)", "remove_lines(True, 2)", "normalize(1, 'x')", "normalize()", "remove_lines(*a)",
    "remove_lines(**k)", "remove_lines(all=False)", "remove_lines(1, all=True)",
])
def test_bad_arguments_are_errors(program):
    parsed = parse_program(program)
    assert parsed.calls == [] and len(parsed.errors) == 1


def test_prox_executor_ignores_unknown_calls_and_removes_all():
    lines = ["a b c", "d e f", "g h i"]
    strict = execute(lines, [(0, 1), (2, 2)], ["os.remove_lines(1, 2)\nprint('x')\nremove_lines(0, 0)", "keep_chunk()"])
    assert strict.removed == {0} and len(strict.parse_errors) == 2 and strict.ignored == 0
    lenient = execute_prox(lines, [(0, 1), (2, 2)], ["os.remove_lines(1, 2)\nprint('x')\nremove_lines(0, 0)",
                                                     "keep_chunk()"])
    assert lenient.removed == {0} and lenient.parse_errors == [] and lenient.ignored == 2
    assert execute(lines, [(0, 1), (2, 2)], ["keep_chunk()", "remove_lines(all=True)"]).removed == {2}
    assert execute_prox(lines, [(0, 1), (2, 2)], ["keep_chunk()", "remove_lines(all=True)"]).removed == {0, 1, 2}


def test_document_decision():
    assert decide_document("drop_doc()").drop
    assert not decide_document("keep_doc()").drop
    assert decide_document("keep_doc()").errors == []
    undecided = decide_document("I think it should go")
    assert not undecided.drop and undecided.errors
    assert decide_document("drop_doc()\nkeep_doc()").errors


def test_remove_lines_inclusive_and_validated_against_the_chunk():
    run = execute(LINES, [(0, 4), (5, 9)], ["remove_lines(1, 2)", "remove_lines(line_start=9, line_end=9)"])
    assert run.removed == {1, 2, 9}
    assert run.errors == []
    assert run.text.split("\n") == [LINES[i] for i in (0, 3, 4, 5, 6, 7, 8)]
    bad = execute(LINES, [(0, 4), (5, 9)], ["remove_lines(3, 6)", "remove_lines(8, 6)"])
    assert bad.removed == set()
    assert len(bad.exec_errors) == 2 and bad.parse_errors == []
    negative = execute(LINES, [(0, 9)], ["remove_lines(-1, 2)"])
    assert negative.removed == set() and negative.exec_errors


def test_normalize_is_scoped_to_its_chunk():
    lines = ["foo bar", "foo baz", "foo qux", "foo end"]
    run = execute(lines, [(0, 1), (2, 3)], ["normalize('foo ', '')", "keep_chunk()"])
    assert run.text == "bar\nbaz\nfoo qux\nfoo end"
    assert run.errors == []


def test_normalize_edge_cases():
    lines = ["a-b-c", "xyz"]
    missing = execute(lines, [(0, 1)], ["normalize('nope', '')"])
    assert missing.text == "a-b-c\nxyz" and len(missing.exec_errors) == 1
    empty = execute(lines, [(0, 1)], ["normalize('', 'q')"])
    assert empty.text == "a-b-c\nxyz" and empty.exec_errors
    spanning = execute(lines, [(0, 1)], ["normalize('c\\nx', '')"])
    assert spanning.text == "a-b-c\nxyz" and spanning.exec_errors
    every = execute(lines, [(0, 1)], ["normalize('-b-', '_')"])
    assert every.text == "a_c\nxyz"
    # normalisations run before removals, and a removed line stays removed
    both = execute(lines, [(0, 1)], ["remove_lines(0, 0)\nnormalize('xyz', 'XY')"])
    assert both.text == "XY"


@pytest.mark.parametrize("call", ["normalize(' ', '')", "normalize('  \t ', '')", "normalize('-', '')",
                                  "normalize('b-', '')", "normalize('xyz', 'xyz and more')"])
def test_normalize_rejects_tiny_sources_and_growing_replacements(call):
    lines = ["a-b-c  d", "xyz"]
    run = execute(lines, [(0, 1)], [call])
    assert run.text == "\n".join(lines) and len(run.exec_errors) == 1


def test_wrong_level_calls_are_errors():
    run = execute(LINES, [(0, 9)], ["drop_doc()"])
    assert run.removed == set() and run.exec_errors


def test_pack_chunks_respects_budget():
    assert pack_chunks([3, 3, 3, 3], 6) == [(0, 1), (2, 3)]
    assert pack_chunks([10, 1, 1], 5) == [(0, 0), (1, 2)]
    assert pack_chunks([], 5) == []
    assert pack_chunks([1] * 5, 100) == [(0, 4)]


def test_removal_program_round_trips_through_the_executor():
    lines = ["nav", "", "nav2", "text", "", "more", "footer"]
    program = removal_program(lines, {0, 2, 6}, 0, 6)
    assert program == "remove_lines(line_start=0, line_end=2)\nremove_lines(line_start=6, line_end=6)"
    run = execute(lines, [(0, 6)], [program])
    assert run.text == "text\n\nmore"
    assert removal_program(lines, set(), 0, 6) == "keep_chunk()"


def test_chunk_grammar_lists_only_chunk_lines():
    grammar = chunk_grammar(12, 14)
    assert 'num ::= "12" | "13" | "14"' in grammar


# ------------------------------------------------------------------ properties

text_lines = st.lists(st.text(max_size=30), min_size=1, max_size=30)
call_names = st.sampled_from(["remove_lines", "normalize", "keep_chunk", "drop_doc", "eval", "open", "keep_doc", ""])
argument = st.one_of(st.integers(-5, 50).map(str), st.text(max_size=12).map(repr), st.text(max_size=8),
                     st.sampled_from(["[003]", "007", "line_start=", "'", '"', ")", "(", "=", ",", "\\", "\n"]))


@st.composite
def programs(draw):
    parts = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            args = draw(st.lists(argument, max_size=4))
            keywords = draw(st.lists(st.sampled_from(["line_start", "line_end", "source_str", "target_str", "x"]),
                                     max_size=len(args)))
            rendered = [f"{k}={a}" for k, a in zip(keywords, args)] + args[len(keywords):]
            parts.append(f"{draw(call_names)}({', '.join(rendered)})")
        else:
            parts.append(draw(st.text(max_size=40)))
    return "\n".join(parts)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=text_lines, data=st.data())
def test_no_program_raises_or_loses_the_document(lines, data):
    cut = data.draw(st.integers(0, len(lines) - 1))
    chunks = [(0, cut)] + ([(cut + 1, len(lines) - 1)] if cut + 1 < len(lines) else [])
    chunk_programs = [data.draw(st.one_of(programs(), st.none(), st.text(max_size=200))) for _ in chunks]
    run = execute(lines, chunks, chunk_programs)
    # every line is either kept (possibly normalised) or removed; the document is never lost
    assert len(run.lines) == len(lines)
    assert run.removed <= set(range(len(lines)))
    kept = [i for i in range(len(lines)) if i not in run.removed]
    assert run.text == "\n".join(run.lines[i] for i in kept)
    assert all(len(new) <= len(old) for new, old in zip(run.lines, lines))  # no replacement grows a line
    for i in range(len(lines)):
        if not any(c.name == "normalize" for p in chunk_programs for c in parse_program(p).calls):
            assert run.lines[i] == lines[i]
    decision = decide_document(data.draw(programs()))
    assert isinstance(decision.drop, bool)
    prox = execute_prox(lines, chunks, chunk_programs)  # ProX's semantics: may grow a line, never adds or loses one
    assert len(prox.lines) == len(lines) and prox.removed <= set(range(len(lines)))
    assert prox.text == "\n".join(line for i, line in enumerate(prox.lines) if i not in prox.removed)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises_on_arbitrary_text(text):
    parsed = parse_program(text)
    assert all(c.name in {"remove_lines", "normalize", "keep_chunk", "drop_doc", "keep_doc"} for c in parsed.calls)
