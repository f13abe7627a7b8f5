import pyarrow as pa

from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF, ORDER
from curate.stages.exact_dedup import ExactDedup, ExactDedupParams, normalized_text
from curate.stages.length_filter import LengthFilter, word_counts
from curate.stages.normalize import Normalize
from tests.conftest import documents


def test_normalize_cleans_text():
    raw = ["  Cafe\u0301  au\tlait \r\nline two\x00\u200b\n\n\n\nend  ", "\x07\u200b \n "]
    out = Normalize().process_batch(documents(raw))
    assert out.column("text").to_pylist()[0] == "Caf\u00e9 au lait\nline two\n\nend"
    assert out.column(DROP_REASON).to_pylist() == [None, "empty_after_normalize"]


def test_normalize_can_keep_layout():
    out = Normalize(form="none", collapse_spaces=False, max_blank_lines=None, strip=False).process_batch(
        documents(["a  b\n\n\n\nc "])
    )
    assert out.column("text").to_pylist() == ["a  b\n\n\n\nc "]


def test_length_filter_bounds_and_reasons():
    texts = ["one two", "one two three four five", "x" * 50, "w " * 20]
    out = LengthFilter(min_words=3, max_chars=40, max_words=10).process_batch(documents(texts))
    assert out.column(DROP_REASON).to_pylist() == ["too_few_words", None, "too_many_chars", "too_many_words"]
    assert out.column(DROP_DETAIL).to_pylist()[0] == "words=2 < 3"
    assert out.column(ORDER).to_pylist() == [0, 1, 2, 3]


def test_word_counts_unicode_whitespace():
    assert word_counts(pa.array(["a\u3000b\tc\nd", "", "   "])).tolist() == [4, 0, 0]


def test_exact_dedup_normalisation_switches():
    text = pa.array(["Hello,  World 42!"])
    assert normalized_text(text, ExactDedupParams()).to_pylist() == ["hello, world 42!"]
    loose = ExactDedupParams(strip_punctuation=True, strip_digits=True)
    assert normalized_text(text, loose).to_pylist() == ["hello world"]


def test_exact_dedup_keeps_smallest_id(ray_session):
    import ray.data

    texts = ["Same text here.", "same   TEXT here.", "other", "Same text here.", "unique"]
    table = documents(texts, ids=["b", "c", "d", "a", "e"])
    result = ExactDedup().run(ray.data.from_arrow(table))
    marks = sorted(result.marks.take_all(), key=lambda r: r[ORDER])
    assert [(r[ORDER], r[DROP_REASON], r[DUPLICATE_OF]) for r in marks] == [
        (0, "exact_duplicate", "a"), (1, "exact_duplicate", "a")]
    assert result.stats == {"duplicate_clusters": 1, "duplicates": 2}


def test_exact_dedup_without_duplicates(ray_session):
    import ray.data

    result = ExactDedup().run(ray.data.from_arrow(documents(["a", "b"])))
    assert result.marks.count() == 0
    assert result.stats["duplicates"] == 0
