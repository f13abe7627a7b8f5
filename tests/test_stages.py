import pyarrow as pa
import pytest
from pydantic import ValidationError

from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF, ORDER
from curate.stages.exact_dedup import ExactDedup, ExactDedupParams, normalized_text
from curate.stages.length_filter import LengthFilter, word_counts
from curate.stages.normalize import Normalize
from curate.tables import drop_mask, mark_drops
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


LENGTH_TEXTS = ["one two", "one two three four five", "x" * 50, "w " * 20]


def test_length_filter_bounds_and_reasons():
    out, stats = LengthFilter(min_words=3, max_chars=40, max_words=10).process_batch(documents(LENGTH_TEXTS))
    assert out.column(DROP_REASON).to_pylist() == ["too_few_words", None, "too_many_chars", "too_many_words"]
    assert out.column(DROP_DETAIL).to_pylist() == ["words=2 < 3", None, "chars=50 > 40", "words=20 > 10"]
    assert out.column(ORDER).to_pylist() == [0, 1, 2, 3]
    assert stats == {"checked": 4, "failed": {"too_many_chars": 1, "too_few_words": 1, "too_many_words": 1}}


def test_length_filter_writes_what_it_measures():
    out, _ = LengthFilter(min_words=3).process_batch(documents(LENGTH_TEXTS))
    assert out.schema.field("char_count").type == pa.int64() == out.schema.field("word_count").type
    assert out.column("char_count").to_pylist() == [7, 23, 50, 40]
    assert out.column("word_count").to_pylist() == [2, 5, 1, 20]
    chars_only, stats = LengthFilter(min_chars=10).process_batch(documents(LENGTH_TEXTS))
    assert "word_count" not in chars_only.column_names
    assert chars_only.column("char_count").to_pylist() == [7, 23, 50, 40]
    assert stats == {"checked": 4, "failed": {"too_few_chars": 1}}


def test_length_filter_annotate_keeps_every_document():
    stage = LengthFilter(min_words=3, max_chars=40, max_words=10, mode="annotate")
    out, stats = stage.process_batch(documents(LENGTH_TEXTS))
    assert not drop_mask(out).any()
    assert out.num_rows == 4 and out.column(ORDER).to_pylist() == [0, 1, 2, 3]
    assert out.column("length_filter_reason").to_pylist() == ["too_few_words", None, "too_many_chars",
                                                              "too_many_words"]
    assert out.column("word_count").to_pylist() == [2, 5, 1, 20]
    assert stats["failed"] == {"too_many_chars": 1, "too_few_words": 1, "too_many_words": 1}
    # the reason column is there even when every document passes, so batches share one schema
    passing, _ = stage.process_batch(documents(["one two three"]))
    assert passing.column("length_filter_reason").to_pylist() == [None]


def test_length_filter_counts_only_documents_not_already_dropped():
    table = mark_drops(documents(LENGTH_TEXTS), [True, False, False, False], "earlier")
    out, stats = LengthFilter(min_words=3).process_batch(table)
    assert out.column(DROP_REASON).to_pylist() == ["earlier", None, "too_few_words", None]
    assert stats == {"checked": 3, "failed": {"too_few_words": 1}}


def test_length_filter_params_are_checked():
    with pytest.raises(ValidationError, match="min_words=5 is larger than max_words=2"):
        LengthFilter(min_words=5, max_words=2)
    with pytest.raises(ValidationError):
        LengthFilter(mode="keep")


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
