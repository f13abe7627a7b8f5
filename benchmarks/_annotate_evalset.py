"""The evaluation set of LM annotation: real documents from edited sources and from noisy ones.

The proxy truth is the source: documentation, news and edited prose are
``edited`` (1); spam and ham e-mail, tweets, fortune-cookie quotes and mixed
short sentences (reddit, SMS, lyrics ...) are ``noisy`` (0). A source is a
crude label for one document (a BBC sports brief is not a lesson, a fortune
can be a wise quote), so it bounds what any score can reach; it is the same
for every method compared.

Sources are split in two folds: the head is fitted on the LM's labels of the
``fit`` sources and evaluated on the ``held_out`` sources, which neither it
nor its label cut ever saw.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow.csv as pcsv

from benchmarks._corpora import DEFAULT_CORPORA, read_corpus
from curate.stages.subset import selection_key

SHARED_LABELS = Path(DEFAULT_CORPORA).parent / "labels"
FOLDS = {
    "fit": {"edited": ["python311_doc_rst", "bbc_news"], "noisy": ["spamassassin_emails", "tweets"]},
    "held_out": {"edited": ["brown_corpus", "postgresql_doc_html"], "noisy": ["fortunes_en", "nlp_corpus_sentences"]},
}
SCAN = 3000  # records read per source before choosing


def source_fold(source: str) -> tuple[str, int]:
    """The fold of a source and its proxy label (1 edited, 0 noisy)."""
    for fold, sides in FOLDS.items():
        for side, sources in sides.items():
            if source in sources:
                return fold, int(side == "edited")
    raise KeyError(source)


def _records(source: str) -> Iterator[dict]:
    if source == "tweets":
        table = pcsv.read_csv(SHARED_LABELS / "toxicity_davidson.csv")
        for row, tweet in zip(table.column(0).to_pylist(), table.column("tweet").to_pylist()):
            yield {"id": f"davidson:{row}", "text": html.unescape(tweet)}
        return
    name = "fortunes_all" if source == "fortunes_en" else source
    for record in read_corpus(DEFAULT_CORPORA, name, limit=None if source == "fortunes_en" else SCAN):
        if source == "fortunes_en" and record.get("lang") != "en":
            continue
        yield record


def build(per_source: int, seed: int = 0) -> list[dict]:
    """``per_source`` documents of every source (the smallest keys of ``seed`` and the id among the first
    ``SCAN`` non-empty records), with fields id, source, text, fold, edited."""
    out = []
    for fold, sides in FOLDS.items():
        for side, sources in sides.items():
            for source in sources:
                candidates = []
                for record in _records(source):
                    if str(record.get("text") or "").strip():
                        candidates.append(record)
                    if len(candidates) >= SCAN:
                        break
                candidates.sort(key=lambda r: selection_key(str(r["id"]), seed))
                out += [{"id": f"{source}/{r['id']}", "source": source, "text": r["text"], "fold": fold,
                         "edited": int(side == "edited")} for r in candidates[:per_source]]
    return out


def write(path: Path, documents: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for document in documents:
            handle.write(orjson.dumps(document) + b"\n")
