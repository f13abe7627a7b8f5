"""The pii stage: precision and recall per kind on hand-labelled real text, and throughput per core.

    python benchmarks/pii.py            # fixture + up to 750 real documents per source, best of 3
    python benchmarks/pii.py --smoke    # fixture + 60 documents, one repeat

Quality: every candidate of tests/fixtures/pii_fixture.jsonl (real snippets
with hand-given labels, built by scripts/build_pii_fixture.py) counts as found
when a span of its kind overlaps it. DataTrove's e-mail and IP patterns (its
``PIIFormatter``, IP matches kept only when public, as it does by default) run
on the same snippets in the same run. Figures are given for the held-out
sources (not looked at while writing the stage), per source, and for all.

Throughput: ``Pii(mode="replace")`` over real documents (e-mails with their
headers, documentation, web pages) in batches, Arrow held to one thread,
against a bare Python loop running the stage's own six candidate patterns
with ``findall`` over every document (no prefilter, no checks, no
replacement), and against DataTrove's two substitutions.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._compare import add_smoke_flag, compare  # noqa: E402
from benchmarks._corpora import DEFAULT_CORPORA, read_corpus, require_corpora  # noqa: E402
from benchmarks.filters import best_of  # noqa: E402
from curate.pii import patterns  # noqa: E402
from curate.stages.pii import Pii  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pii_fixture.jsonl"
THROUGHPUT_SOURCES = ("spamassassin_emails", "python311_doc_rst", "postgresql_doc_html", "web_pages")

# Reference only: the two patterns of DataTrove's PIIFormatter, copied from huggingface/datatrove,
# src/datatrove/pipeline/formatters/pii.py (used there without flags, so the e-mail pattern is lowercase-only).
DATATROVE_EMAIL = re.compile(
    r"\b[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:(?:[a-z0-9](?:[a-z0-9-]*["
    r"a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?|\[(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25["
    r"0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?|[a-z0-9-]*[a-z0-9]:)])")
DATATROVE_IP = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.){3}(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)")


def datatrove_public_ip(text: str) -> bool:
    """DataTrove's IP validator with its default ``only_remove_public_ips=True``."""
    try:
        return ipaddress.ip_address(text).is_global
    except ValueError:
        return False


def datatrove_spans(kind: str, text: str) -> list[tuple[int, int]]:
    if kind == "email":
        return [m.span() for m in DATATROVE_EMAIL.finditer(text)]
    return [m.span() for m in DATATROVE_IP.finditer(text) if datatrove_public_ip(m.group())]


def datatrove_replace(text: str) -> str:
    text = DATATROVE_EMAIL.sub("email@example.com", text)
    return DATATROVE_IP.sub(lambda m: "22.214.171.124" if datatrove_public_ip(m.group()) else m.group(), text)


def documents(texts: list[str]) -> pa.Table:
    return pa.table({"id": [str(i) for i in range(len(texts))], "text": pa.array(texts, pa.string())})


def score(found: list[bool], rows: list[dict], key) -> dict:
    counts: dict = defaultdict(lambda: [0, 0, 0])
    for hit, row in zip(found, rows):
        slot = 0 if hit and row["label"] else 1 if hit else 2 if row["label"] else None
        if slot is not None:
            for group in key(row):
                counts[group][slot] += 1
    return counts


def pr(counts: list[int]) -> tuple[float, float]:
    tp, fp, fn = counts
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def quality() -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    out, _ = Pii(mode="annotate").process_batch(documents([row["context"] for row in rows]))
    ours = [any(s["kind"] == r["kind"] and s["start"] < r["end"] and s["end"] > r["start"] for s in spans)
            for r, spans in zip(rows, out.column("pii_spans").to_pylist())]
    theirs = [r["kind"] in ("email", "ip") and any(a < r["end"] and b > r["start"]
                                                   for a, b in datatrove_spans(r["kind"], r["context"]))
              for r in rows]

    def groups(row: dict) -> list:
        return list(dict.fromkeys([(row["kind"], "all"), (row["kind"], row["split"]), (row["kind"], row["source"])]))

    mine, reference = score(ours, rows, groups), score(theirs, rows, groups)
    print(f"{'kind':6s} {'split or source':38s} {'true':>5s} {'curate P':>9s} {'R':>6s} {'datatrove P':>12s} {'R':>6s}")
    for key in sorted(mine, key=lambda k: (k[0], k[1] != "heldout", k[1] != "all", k[1])):
        p, r = pr(mine[key])
        line = f"{key[0]:6s} {key[1]:38s} {mine[key][0] + mine[key][2]:5d} {p:9.3f} {r:6.3f}"
        if key[0] in ("email", "ip"):
            line += "{:12.3f} {:6.3f}".format(*pr(reference[key]))
        print(line)
    for kind in ("email", "ip"):
        (p, r), (ref_p, ref_r) = pr(mine[(kind, "heldout")]), pr(reference[(kind, "heldout")])
        compare(f"pii {kind} precision, held-out fixture", "DataTrove PIIFormatter regex", ref_p, p, "precision")
        compare(f"pii {kind} recall, held-out fixture", "DataTrove PIIFormatter regex", ref_r, r, "recall")


def real_texts(count: int) -> list[str]:
    per_source = count // len(THROUGHPUT_SOURCES)
    return [record.get("text") or "" for name in THROUGHPUT_SOURCES
            for record in read_corpus(DEFAULT_CORPORA, name, limit=per_source)]


def bare_loop(texts: list[str]) -> None:
    compiled = [p.regex for p in (patterns.EMAIL, patterns.IBAN, patterns.CARD, patterns.IPV4, patterns.IPV6,
                                  patterns.PHONE)]
    for text in texts:
        for regex in compiled:
            regex.findall(text)


def throughput(count: int, repeats: int) -> None:
    pa.set_cpu_count(1)
    texts = real_texts(count)
    table = documents(texts)
    stage = Pii(mode="replace")

    def run_stage() -> None:
        for start in range(0, table.num_rows, stage.batch_size):
            stage.process_batch(table.slice(start, stage.batch_size))

    seconds = best_of(repeats, run_stage, lambda: bare_loop(texts),
                      lambda: [datatrove_replace(t) for t in texts])
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    rates = [megabytes / s for s in seconds]
    print(f"{len(texts)} documents from {', '.join(THROUGHPUT_SOURCES)}: {megabytes:.1f} MB, best of {repeats}")
    for name, rate in zip(("pii stage (5 kinds, checks, replace)", "bare re loop, same 6 patterns",
                           "DataTrove e-mail + IP substitution"), rates):
        print(f"  {name:40s} {rate:8.2f} MB/s per core")
    compare("pii replace throughput, real text", "bare re findall loop, same patterns", rates[1], rates[0], "MB/s")
    compare("pii replace throughput, real text (5 kinds vs 2)", "DataTrove PIIFormatter e-mail + IP", rates[2],
            rates[0], "MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args()
    quality()
    require_corpora(DEFAULT_CORPORA, THROUGHPUT_SOURCES, args.smoke)
    throughput(60 if args.smoke else args.documents, 1 if args.smoke else args.repeats)


if __name__ == "__main__":
    main()
