"""The rule filters side by side with DataTrove 0.10.1: keep/drop agreement and speed, per filter and definition.

    python benchmarks/filters_datatrove.py            # the sample corpus, then held-out sources from ../shared
    python benchmarks/filters_datatrove.py --smoke    # 150 sample documents, no held-out sources

Pairs (see ``benchmarks/_datatrove.py``): gopher_quality / GopherQualityFilter,
gopher_repetition / GopherRepetitionFilter, c4_filter / C4QualityFilter then
C4BadWordsFilter, fineweb_filter / FineWebQualityFilter, every one at its
defaults. Agreement: share of documents given the same keep/drop decision.
The sample is where ``definition: datatrove`` was developed; the held-out
sources (web pages, git and Perl documentation, man pages; none in the sample)
were read only after it was frozen. The worst held-out source is printed.

Speed, like for like, in this one process with Arrow held to one thread:
DataTrove's filter called on each document (its spaCy tokenizer loaded and
warmed up first), curate's stage on batches of the same texts. For
``datatrove`` the chunk cache of curate's spaCy words is emptied before the
timed run (every distinct chunk is tokenized again, as DataTrove tokenizes
every text), and the rate with the cache kept from the previous run (the
steady state of a long run, where most chunks have been seen) is printed
beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import DEFAULT_CORPORA, SAMPLE, corpus_path, read_corpus, sample_table  # noqa: E402
from benchmarks._datatrove import FILTERS, curate_keeps, datatrove_keeps  # noqa: E402
from curate.stages.spacy_words import clear_cache  # noqa: E402

HELD_OUT = {"web_pages": 300, "git_doc_asciidoc": 292, "perl_doc_pod": 207, "manpages_en": 207}
DEFINITIONS = ("paper", "datatrove")
SAMPLE_TEXTS: list[str] = []
PEERS = {"gopher_quality": "GopherQualityFilter", "gopher_repetition": "GopherRepetitionFilter",
         "c4_filter": "C4QualityFilter + C4BadWordsFilter", "fineweb_filter": "FineWebQualityFilter"}


def text_table(texts: list[str]) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})


def timed(run) -> tuple[object, float]:
    start = time.perf_counter()
    out = run()
    return out, time.perf_counter() - start


def held_out(corpora: Path) -> dict[str, list[str]]:
    return {name: [r["text"] or "" for r in read_corpus(corpora, name, limit)]
            for name, limit in HELD_OUT.items() if corpus_path(corpora, name) is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SAMPLE)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    add_smoke_flag(parser)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    texts = [t or "" for t in sample_table(args.input).column("text").to_pylist()]
    if args.smoke:
        texts = texts[::max(1, len(texts) // 150)][:150]
    table = text_table(texts)
    print(f"sample: {len(texts)} documents, {sum(map(len, texts)) / 1e6:.1f} M characters")
    datatrove_keeps(FILTERS, texts[:50])  # load spaCy and warm up DataTrove
    for name in FILTERS:
        curate_keeps(name, table.slice(0, 50), "datatrove")
    rates: dict[tuple[str, str], float] = {}
    long = np.array([len(text.split()) >= 50 for text in texts])
    for name in FILTERS:
        reference, seconds = timed(lambda name=name: datatrove_keeps([name], texts)[name])
        rates[name, "DataTrove"] = len(texts) / seconds
        for definition in DEFINITIONS:
            clear_cache()
            keeps, seconds = timed(lambda name=name, d=definition: curate_keeps(name, table, d))
            rates[name, definition] = len(texts) / seconds
            if definition == "datatrove":
                _, seconds = timed(lambda name=name, d=definition: curate_keeps(name, table, d))
                rates[name, "datatrove, cache kept"] = len(texts) / seconds
            print(f"{name:18s} {definition:9s} agreement {np.mean(keeps == reference):7.2%} on the sample, "
                  f"{np.mean((keeps == reference)[long]):7.2%} on its {int(long.sum())} documents of 50+ words "
                  f"({int((keeps != reference).sum())} of {len(texts)} differ; DataTrove keeps {int(reference.sum())}, "
                  f"curate {int(keeps.sum())})", flush=True)
    if not args.smoke:
        SAMPLE_TEXTS[:] = texts
        report_held_out(held_out(args.corpora))
    for name in FILTERS:
        print(f"{name:18s} docs/s: DataTrove {rates[name, 'DataTrove']:8,.0f} | paper {rates[name, 'paper']:8,.0f} | "
              f"datatrove {rates[name, 'datatrove']:8,.0f} (cache kept: {rates[name, 'datatrove, cache kept']:,.0f})")
    for name in FILTERS:
        for definition in DEFINITIONS:
            compare(f"{name} (definition: {definition}), sample corpus", f"DataTrove 0.10.1 {PEERS[name]}",
                    rates[name, "DataTrove"], rates[name, definition], "docs/s")


def report_held_out(sources: dict[str, list[str]]) -> None:
    """Agreement per held-out source and the worst source, for every filter and definition; then the speed
    of both on all of them, curate's spaCy words cached from the sample only (new texts, partly new chunks)."""
    if not sources:
        print("held-out sources: none found (set --corpora)")
        return
    print(f"held-out: {', '.join(f'{k} {len(v)}' for k, v in sources.items())}")
    every = [text for texts in sources.values() for text in texts]
    for name in FILTERS:
        per_source = {}
        for source, texts in sources.items():
            reference = datatrove_keeps([name], texts)[name]
            per_source[source] = {d: np.mean(curate_keeps(name, text_table(texts), d) == reference)
                                  for d in DEFINITIONS}
        for definition in DEFINITIONS:
            total = sum(per_source[s][definition] * len(sources[s]) for s in sources) / len(every)
            worst = min(sources, key=lambda s: per_source[s][definition])
            print(f"{name:18s} {definition:9s} held-out agreement {total:7.2%} (worst: {worst} "
                  f"{per_source[worst][definition]:.2%})", flush=True)
    clear_cache()
    curate_keeps("gopher_quality", text_table(list(SAMPLE_TEXTS)), "datatrove")  # the cache a run on the sample left
    for name in FILTERS:
        _, reference = timed(lambda name=name: datatrove_keeps([name], every))
        _, seconds = timed(lambda name=name: curate_keeps(name, text_table(every), "datatrove"))
        compare(f"{name} (definition: datatrove), held-out sources, spaCy words cached from the sample",
                f"DataTrove 0.10.1 {PEERS[name]}", len(every) / reference, len(every) / seconds, "docs/s")


if __name__ == "__main__":
    main()
