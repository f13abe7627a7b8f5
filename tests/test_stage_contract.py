import numpy as np
import pyarrow as pa
import pytest

from curate.stage import DROP_DETAIL, DROP_REASON, DUPLICATE_OF
from curate.stages.length_filter import LengthFilter
from curate.tables import drop_mask, mark_drops
from tests.conftest import documents


def test_mark_drops_sets_reason_detail_and_keeps_rows():
    table = documents(["a", "b", "c"])
    marked = mark_drops(table, np.array([False, True, False]), "bad", detail=["x", "y", "z"])
    assert marked.num_rows == 3
    assert marked.column(DROP_REASON).to_pylist() == [None, "bad", None]
    assert marked.column(DROP_DETAIL).to_pylist() == [None, "y", None]
    assert drop_mask(marked).tolist() == [False, True, False]


def test_first_reason_wins():
    table = documents(["a", "b"])
    table = mark_drops(table, [True, False], "first")
    table = mark_drops(table, [True, True], "second", duplicate_of=pa.array(["k1", "k2"], pa.large_string()))
    assert table.column(DROP_REASON).to_pylist() == ["first", "second"]
    assert table.column(DUPLICATE_OF).to_pylist() == [None, "k2"]


def test_mask_shape_is_checked():
    with pytest.raises(ValueError):
        mark_drops(documents(["a"]), [True, False], "bad")


def test_params_reject_unknown_names_and_bad_bounds():
    with pytest.raises(Exception, match="min_wrds"):
        LengthFilter(min_wrds=3)
    with pytest.raises(Exception, match="larger than"):
        LengthFilter(min_words=10, max_words=2)
    with pytest.raises(TypeError):
        LengthFilter(LengthFilter.Params(), min_words=1)
