"""Side by side with DataTrove's rule filters: keep/drop decisions of both on the same texts.

DataTrove (0.10.1, with spaCy for its English word tokenizer) runs in this
process, one document at a time as in its pipelines; curate's stages run on
the same texts in batches. Pairs (curate stage, DataTrove filters):

* ``gopher_quality``: ``GopherQualityFilter``
* ``gopher_repetition``: ``GopherRepetitionFilter``
* ``c4_filter``: ``C4QualityFilter`` then ``C4BadWordsFilter`` (C4's recipe; the bad-word list is the one
  curate ships, the same revision DataTrove would download)
* ``fineweb_filter``: ``FineWebQualityFilter``

A document is kept when every filter of its pair keeps it. Neither side
edits text here (C4's line removal happens after the decision).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa

from curate.stages import get_stage_class
from curate.stages.c4_filter import LDNOOBW_EN
from curate.tables import drop_mask

FILTERS = ("gopher_quality", "gopher_repetition", "c4_filter", "fineweb_filter")


def datatrove_filters(name: str) -> list:
    """The DataTrove filter objects that correspond to a curate stage (default parameters)."""
    from datatrove.pipeline.filters import (
        C4BadWordsFilter,
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    if name == "c4_filter":
        bad_words = C4BadWordsFilter()
        bad_words._badwords_regex["en"] = _c4_bad_word_regex()
        return [C4QualityFilter(), bad_words]
    return [{"gopher_quality": GopherQualityFilter, "gopher_repetition": GopherRepetitionFilter,
             "fineweb_filter": FineWebQualityFilter}[name]()]


def _c4_bad_word_regex():
    """The regular expression ``C4BadWordsFilter`` builds for English, from curate's copy of the list
    (instead of downloading it)."""
    import re

    with open(LDNOOBW_EN, encoding="utf-8") as handle:
        words = {line.strip() for line in handle}
    return re.compile(r"(?:\W|^)({})(?:\W|$)".format("|".join(re.escape(w) for w in words)))


def datatrove_keeps(names: Sequence[str], texts: Sequence[str]) -> dict[str, np.ndarray]:
    """DataTrove's decision (True: kept) per text for each named pair, one document at a time through all
    of them (so DataTrove's own cache tokenizes each text once for its word-based filters)."""
    from datatrove.data import Document

    filters = {name: datatrove_filters(name) for name in names}
    kept = {name: np.ones(len(texts), dtype=bool) for name in names}
    for i, text in enumerate(texts):
        for name, pair in filters.items():
            for dt_filter in pair:
                result = dt_filter.filter(Document(text=text, id=str(i)))
                if result is not True and (isinstance(result, tuple) or not result):
                    kept[name][i] = False
                    break
    return kept


def curate_keeps(name: str, table: pa.Table, definition: str) -> np.ndarray:
    """curate's decision (True: kept) per row, the stage in drop mode at its defaults."""
    stage = get_stage_class(name)(definition=definition)
    parts = [stage.process_batch(table.slice(start, stage.batch_size))[0]
             for start in range(0, table.num_rows, stage.batch_size)]
    return np.concatenate([~drop_mask(part) for part in parts]) if parts else np.zeros(0, dtype=bool)


def timed(run: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start
