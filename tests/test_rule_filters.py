import random
from collections import Counter

import numpy as np
import pytest

from curate.config import ConfigError, parse_pipeline
from curate.stage import DROP_DETAIL, DROP_REASON
from curate.stages.c4_filter import C4Filter
from curate.stages.fineweb_filter import FineWebFilter
from curate.stages.gopher_quality import GopherQuality
from curate.stages.gopher_repetition import DUP_NGRAMS, TOP_NGRAMS, GopherRepetition
from curate.tables import drop_mask, mark_drops
from tests.conftest import documents

PROSE = ("The committee met on Tuesday to discuss the budget. It agreed that the council should have more time "
         "to review the plans, and members said they were happy with the progress made so far. A final vote is "
         "expected next month, when the report will be published with all of the comments received. Residents "
         "who wish to take part can write to the office before the end of the month. Copies of the plans are "
         "also available at the library.")
BAD_INPUT = ["", "   \n\t ", None, "\x00\x01\x02\ufffd\ufffd" * 40, "人人生而自由，在尊严和权利上一律平等。" * 3,
             "يولد جميع الناس أحراراً متساوين في الكرامة والحقوق.", "{}" * 30]
ALL = (GopherQuality, GopherRepetition, C4Filter, FineWebFilter)


def column(table, name):
    return table.column(name).to_pylist()


def test_gopher_quality_keeps_prose_and_names_the_first_failing_rule():
    short = "Just a few words here."
    symbols = "# " * 60 + PROSE
    out, stats = GopherQuality().process_batch(documents([PROSE, short, symbols]))
    assert column(out, DROP_REASON) == [None, "too_few_words", "too_many_hashes"]
    assert column(out, DROP_DETAIL)[1] == "words=5 < 50"
    assert column(out, "gopher_quality_words")[:2] == [len(PROSE.split()), 5]
    assert column(out, "gopher_quality_stop_words")[0] >= 2
    assert stats["checked"] == 3 and stats["failed"]["too_few_words"] == 1
    assert stats["failing"]["too_few_stop_words"] == 1  # the short text also fails it, but is named by the first


def test_annotate_keeps_everything_and_null_turns_a_rule_off():
    short = "Just a few words here."
    out, _ = GopherQuality(mode="annotate").process_batch(documents([PROSE, short]))
    assert not drop_mask(out).any()
    assert column(out, "gopher_quality_reason") == [None, "too_few_words"]
    out, stats = GopherQuality(min_words=None, min_stop_words=None).process_batch(documents([short]))
    assert column(out, DROP_REASON) == [None] and "too_few_words" not in stats["failed"]


def test_already_dropped_rows_are_not_counted():
    table = mark_drops(documents(["tiny", "tiny too"]), np.array([True, False]), "earlier")
    out, stats = GopherQuality().process_batch(table)
    assert column(out, DROP_REASON) == ["earlier", "too_few_words"]
    assert stats["checked"] == 1 and stats["failed"]["too_few_words"] == 1


def _reference_ngrams(words: list[str]) -> dict[str, float]:
    """A direct, per-document implementation of the n-gram values."""
    total = sum(len(w) for w in words)
    out = {}
    for n in TOP_NGRAMS:
        grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
        best = max(grams.items(), key=lambda kv: (kv[1], sum(map(len, kv[0]))), default=(None, 0))
        share = best[1] * sum(map(len, best[0])) / total if best[1] > 1 else 0.0
        out[f"top_{n}gram_ratio"] = min(1.0, share)
    for n in DUP_NGRAMS:
        grams = Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
        covered = set()
        for i in range(len(words) - n + 1):
            if grams[tuple(words[i:i + n])] > 1:
                covered.update(range(i, i + n))
        out[f"dup_{n}gram_ratio"] = sum(len(words[i]) for i in covered) / total if total else 0.0
    return out


def test_repetition_ngram_values_match_a_direct_implementation():
    rng = random.Random(3)
    vocab = ["a", "bb", "ccc", "dddd", "the", "cat"]
    texts = [" ".join(rng.choice(vocab[: rng.randint(2, 6)]) for _ in range(rng.randint(0, 40))) for _ in range(60)]
    out, _ = GopherRepetition(mode="annotate").process_batch(documents(texts))
    for row, text in enumerate(texts):
        for name, value in _reference_ngrams(text.split()).items():
            assert column(out, f"gopher_repetition_{name}")[row] == pytest.approx(value), (text, name)


def test_repetition_lines_and_paragraphs():
    lines = "Buy now.\nBuy now.\nBuy now.\nSomething else entirely different here."
    out, _ = GopherRepetition().process_batch(documents([lines, PROSE]))
    assert column(out, DROP_REASON) == ["duplicate_lines", None]
    assert column(out, "gopher_repetition_dup_line_ratio")[0] == pytest.approx(0.5)
    assert column(out, "gopher_repetition_dup_line_char_ratio")[0] == pytest.approx(16 / len(lines))


def test_c4_rules_and_line_removal():
    good = "\n".join([PROSE, "Menu", "Please enable JavaScript to view this page."])
    texts = [good, "Lorem ipsum dolor sit amet. " + PROSE, PROSE + " Its block { x } is short.", PROSE + " You bastard.",
             "One sentence only here."]
    out, stats = C4Filter().process_batch(documents(texts))
    assert column(out, DROP_REASON) == [None, "lorem_ipsum", "curly_bracket", "bad_words", "too_few_sentences"]
    assert column(out, "c4_kept_lines")[0] == 1 and column(out, "c4_javascript_lines")[0] == 1
    assert column(out, "c4_short_line_ratio")[0] == pytest.approx(1 / 3)
    assert stats["failed"] == {"lorem_ipsum": 1, "curly_bracket": 1, "bad_words": 1, "too_few_sentences": 1}
    edited, _ = C4Filter(remove_lines=True, mode="annotate").process_batch(documents([good]))
    assert column(edited, "text") == [PROSE]
    with pytest.raises(ConfigError, match="nope.txt"):
        C4Filter(bad_words_file="nope.txt")


@pytest.mark.parametrize("definition", ["paper", "datatrove"])
def test_c4_looks_for_curly_brackets_and_lorem_ipsum_only_in_candidate_lines(definition):
    """As C4 (and DataTrove): a line C4 would remove anyway (no terminal punctuation, under 3 words, or
    mentioning javascript) does not drop the page for its '{' or 'lorem ipsum'."""
    texts = ["\n".join([PROSE, "int main() { return 0; }"]), "\n".join([PROSE, "Lorem ipsum"]),
             "\n".join([PROSE, "Enable javascript: { a } now."]), "\n".join([PROSE, "Here a { b } is."])]
    out, _ = C4Filter(definition=definition).process_batch(documents(texts))
    assert column(out, DROP_REASON) == [None, None, None, "curly_bracket"]


def test_c4_and_fineweb_terminal_punctuation():
    """C4 ends lines with . ? ! " ' only; FineWeb with the sentence terminators of every script (no
    closing curly quotes, no ellipsis)."""
    lines = ["The words “end here”", "This one trails off…", "Dies ist das Ende.", "这是结尾。"]
    out, _ = C4Filter(mode="annotate").process_batch(documents(["\n".join(lines)]))
    assert column(out, "c4_terminal_punct_line_ratio") == [0.25]
    out, _ = FineWebFilter(mode="annotate").process_batch(documents(["\n".join(lines)]))
    assert column(out, "fineweb_line_punct_ratio") == [0.5]


def test_c4_default_bad_words_are_ldnoobw():
    texts = [PROSE + " It was a queer and gay day, said Dick.", PROSE + " The film is porn."]
    out, _ = C4Filter(mode="annotate", min_sentences=None).process_batch(documents(texts))
    assert column(out, "c4_bad_words") == [1, 1]  # "dick" is on the list, "queer" and "gay" are not
    out, _ = C4Filter(mode="annotate", min_sentences=None, definition="datatrove").process_batch(documents(texts))
    assert column(out, "c4_bad_words") == [1, 1]


def test_fineweb_rules():
    listing = "\n".join(["Home", "About", "Contact", "Products", "Login"] * 3)
    out, _ = FineWebFilter().process_batch(documents([PROSE, listing, PROSE + "\n" + "This exact same line is repeated here again.\n" * 3]))
    assert column(out, DROP_REASON) == [None, "few_lines_end_in_punctuation", "duplicate_line_chars"]
    assert column(out, "fineweb_short_line_ratio")[1] == 1.0


@pytest.mark.parametrize("definition", ["paper", "datatrove"])
@pytest.mark.parametrize("stage", ALL, ids=lambda cls: cls.name)
def test_bad_input_gets_values_without_errors(stage, definition):
    out, _ = stage(mode="annotate", definition=definition).process_batch(documents(BAD_INPUT))
    prefix = stage.prefix
    for name in out.column_names:
        if name.startswith(prefix) and name != f"{stage.name}_reason":  # null: not measured (datatrove)
            values = np.asarray(out.column(name).drop_null().to_numpy(zero_copy_only=False), dtype=float)
            assert np.isfinite(values).all(), name


def test_words_of_scripts_without_spaces():
    out, _ = GopherQuality(mode="annotate").process_batch(documents(["人人生而自由。", "", "  "]))
    assert column(out, "gopher_quality_words") == [6, 0, 0]
    assert column(out, "gopher_quality_mean_word_length") == [1.0, 0.0, 0.0]


def test_filters_parse_from_yaml():
    stages = {"stages": [{name: {"mode": "annotate"}} for name in
                         ("gopher_quality", "gopher_repetition", "c4_filter", "fineweb_filter")]}
    assert [stage.name for stage in parse_pipeline(stages).build_stages()] == [cls.name for cls in ALL]
    with pytest.raises(ConfigError, match="max_dup_line_ratio"):
        parse_pipeline({"stages": [{"gopher_repetition": {"max_dup_line_ratio": 2}}]})


def test_quality_pipeline_parses():
    from curate.config import load_pipeline

    names = [spec.name for spec in load_pipeline("pipelines/quality.yaml").stages]
    assert names[1:] == ["language", "gopher_quality", "gopher_repetition", "c4_filter", "fineweb_filter", "embed",
                        "quality", "toxicity", "profanity"]


def test_datatrove_measures_tokenized_values_only_where_earlier_rules_keep_the_document():
    """``definition: datatrove`` tokenizes only documents still undecided (as DataTrove returns early): the
    column is null exactly where an earlier rule fails, the same value as with those rules off elsewhere,
    and the decisions are those of the rules applied to every value."""
    listing = "\n".join(["Home", "About", "Contact", "Products", "Login"] * 3)
    lists = "\n".join(letter * 40 + "." for letter in "abcdefgh")  # long lines of one word each
    repeated = PROSE + "\nThis exact same line is repeated here again.\n" * 3
    texts = [PROSE, listing, lists, repeated, "", PROSE + "\n" + PROSE]
    out, _ = FineWebFilter(mode="annotate", definition="datatrove").process_batch(documents(texts))
    every, _ = FineWebFilter(mode="annotate", definition="datatrove", min_line_punct_ratio=None,
                             max_short_line_ratio=None, max_dup_line_char_ratio=None).process_batch(documents(texts))
    reasons = column(out, "fineweb_filter_reason")
    assert reasons == [None, "few_lines_end_in_punctuation", "too_many_newlines", "duplicate_line_chars",
                       "few_lines_end_in_punctuation", "duplicate_line_chars"]
    earlier = [reason not in (None, "too_many_newlines") for reason in reasons]
    assert [value is None for value in column(out, "fineweb_newline_ratio")] == earlier
    assert all(a == b for a, b in zip(column(out, "fineweb_newline_ratio"), column(every, "fineweb_newline_ratio"))
               if a is not None)
    assert column(every, "fineweb_newline_ratio")[2] == pytest.approx(7 / 16)  # 8 words and 8 full stops

    c4_texts = [PROSE, PROSE + "\nIt has { a bracket } too.", PROSE + " The film is porn.", "Too short.", PROSE]
    out, _ = C4Filter(mode="annotate", definition="datatrove").process_batch(documents(c4_texts))
    every, _ = C4Filter(mode="annotate", definition="datatrove", filter_curly_bracket=False,
                        max_bad_word_ratio=None).process_batch(documents(c4_texts))
    assert column(out, "c4_filter_reason") == [None, "curly_bracket", "bad_words", "too_few_sentences", None]
    assert [v is None for v in column(out, "c4_bad_words")] == [False, True, False, False, False]
    assert [v is None for v in column(out, "c4_sentences")] == [False, True, True, False, False]
    assert column(out, "c4_sentences")[3] == 0 and column(every, "c4_sentences")[1:3] == [6, 6]
    assert column(out, "c4_bad_word_ratio")[2] == column(every, "c4_bad_word_ratio")[2] > 0
