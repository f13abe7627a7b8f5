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

Speed, like for like: the same documents, in this one process with Arrow
held to one thread, both sides warmed up first on the same 50 documents
(spaCy loaded, curate's tables built), each the best of ``--repeats`` timed
runs. DataTrove's filter is called on each document (it tokenizes every
text); curate's stage runs on batches of the same texts with the chunk cache
of its spaCy words emptied before every run (a fresh process: every distinct
chunk is tokenized again). The rate with the cache kept from the previous
run (the steady state of a long run, where most chunks have been seen) is
printed beside it for information, not compared. The held-out sources are
timed the same way (cache emptied), DataTrove's first run being the one that
gives the reference decisions.

``--smoke`` fails (exit 1) when ``definition: datatrove`` agrees with
DataTrove on fewer than 99.5% of its documents for any filter.
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


AGREEMENT_FLOOR = 0.995


def cold_run(name: str, table: pa.Table, definition: str) -> np.ndarray:
    clear_cache()
    return curate_keeps(name, table, definition)


def best(repeats: int, run) -> tuple[object, float]:
    """The first run's result and the fastest of ``repeats`` runs, in seconds."""
    out, fastest = None, float("inf")
    for index in range(repeats):
        result, seconds = timed(run)
        out = result if index == 0 else out
        fastest = min(fastest, seconds)
    return out, fastest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SAMPLE)
    parser.add_argument("--corpora", type=Path, default=DEFAULT_CORPORA)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (the fastest counts)")
    add_smoke_flag(parser)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    texts = [t or "" for t in sample_table(args.input).column("text").to_pylist()]
    if args.smoke:
        texts = texts[::max(1, len(texts) // 150)][:150]
    table = text_table(texts)
    print(f"sample: {len(texts)} documents, {sum(map(len, texts)) / 1e6:.1f} M characters; best of "
          f"{args.repeats} runs")
    datatrove_keeps(FILTERS, texts[:50])  # load spaCy and warm up DataTrove
    for name in FILTERS:
        for definition in DEFINITIONS:
            cold_run(name, table.slice(0, 50), definition)
    rates: dict[tuple[str, str], float] = {}
    agreements: dict[str, float] = {}
    long = np.array([len(text.split()) >= 50 for text in texts])
    for name in FILTERS:
        reference, seconds = best(args.repeats, lambda name=name: datatrove_keeps([name], texts)[name])
        rates[name, "DataTrove"] = len(texts) / seconds
        for definition in DEFINITIONS:
            keeps, seconds = best(args.repeats, lambda name=name, d=definition: cold_run(name, table, d))
            rates[name, definition] = len(texts) / seconds
            if definition == "datatrove":
                _, seconds = best(args.repeats, lambda name=name, d=definition: curate_keeps(name, table, d))
                rates[name, "datatrove, cache kept"] = len(texts) / seconds
                agreements[name] = float(np.mean(keeps == reference))
            print(f"{name:18s} {definition:9s} agreement {np.mean(keeps == reference):7.2%} on the sample, "
                  f"{np.mean((keeps == reference)[long]):7.2%} on its {int(long.sum())} documents of 50+ words "
                  f"({int((keeps != reference).sum())} of {len(texts)} differ; DataTrove keeps {int(reference.sum())}, "
                  f"curate {int(keeps.sum())})", flush=True)
    if not args.smoke:
        report_held_out(held_out(args.corpora), args.repeats)
    for name in FILTERS:
        print(f"{name:18s} docs/s: DataTrove {rates[name, 'DataTrove']:8,.0f} | paper {rates[name, 'paper']:8,.0f} | "
              f"datatrove {rates[name, 'datatrove']:8,.0f} (cache kept: {rates[name, 'datatrove, cache kept']:,.0f})")
    for name in FILTERS:
        for definition in DEFINITIONS:
            compare(f"{name} (definition: {definition}), sample corpus", f"DataTrove 0.10.1 {PEERS[name]}",
                    rates[name, "DataTrove"], rates[name, definition], "docs/s")
    low = {name: value for name, value in agreements.items() if value < AGREEMENT_FLOOR}
    if args.smoke and low:
        raise SystemExit(f"definition: datatrove agrees with DataTrove below {AGREEMENT_FLOOR:.1%}: {low}")


def report_held_out(sources: dict[str, list[str]], repeats: int) -> None:
    """Agreement per held-out source and the worst source, for every filter and definition; then the speed
    of both on all of them (curate's chunk cache emptied before every run)."""
    if not sources:
        print("held-out sources: none found (set --corpora)")
        return
    print(f"held-out: {', '.join(f'{k} {len(v)}' for k, v in sources.items())}")
    every = [text for texts in sources.values() for text in texts]
    table = text_table(every)
    for name in FILTERS:
        reference, reference_seconds = best(repeats, lambda name=name: datatrove_keeps([name], every)[name])
        _, seconds = best(repeats, lambda name=name: cold_run(name, table, "datatrove"))
        bounds = np.cumsum([0, *(len(texts) for texts in sources.values())])
        per_source = {}
        for (source, texts), start, end in zip(sources.items(), bounds[:-1], bounds[1:]):
            per_source[source] = {d: np.mean(cold_run(name, text_table(texts), d) == reference[start:end])
                                  for d in DEFINITIONS}
        for definition in DEFINITIONS:
            total = sum(per_source[s][definition] * len(sources[s]) for s in sources) / len(every)
            worst = min(sources, key=lambda s: per_source[s][definition])
            print(f"{name:18s} {definition:9s} held-out agreement {total:7.2%} (worst: {worst} "
                  f"{per_source[worst][definition]:.2%})", flush=True)
        compare(f"{name} (definition: datatrove), held-out sources, chunk cache emptied",
                f"DataTrove 0.10.1 {PEERS[name]}", len(every) / reference_seconds, len(every) / seconds, "docs/s")


if __name__ == "__main__":
    main()
