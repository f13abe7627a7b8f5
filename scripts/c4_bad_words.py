"""What C4's bad-word rule removes: documents per source, and the entries that hit, for a word list.

    python scripts/c4_bad_words.py                       # the bundled sample, C4's list (LDNOOBW English)
    python scripts/c4_bad_words.py --list other.txt      # any list, one word or phrase per line

Runs ``c4_filter`` in annotate mode with only the bad-word rule, in both
definitions (``paper``: whole lower-cased words and phrases; ``datatrove``:
C4's regular expression), and prints per source the documents with at least
one bad word, then the entries found most often in the flagged documents.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._corpora import SAMPLE, sample_table  # noqa: E402
from curate.stages.c4_filter import LDNOOBW_EN, C4Filter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, default=SAMPLE)
    parser.add_argument("--list", default=LDNOOBW_EN)
    args = parser.parse_args()
    table = sample_table(args.input)
    sources = np.array(table.column("source").to_pylist())
    with open(args.list, encoding="utf-8") as handle:
        entries = sorted({line.strip().lower() for line in handle if line.strip()})
    pattern = re.compile(r"(?:\W|^)(" + "|".join(map(re.escape, entries)) + r")(?=\W|$)")
    for definition in ("paper", "datatrove"):
        stage = C4Filter(mode="annotate", definition=definition, bad_words_file=args.list, min_sentences=None,
                         filter_lorem_ipsum=False, filter_curly_bracket=False)
        flagged = np.asarray(stage.process_batch(table)[0].column("c4_bad_words").to_numpy()) > 0
        print(f"definition: {definition}: {int(flagged.sum())} of {len(flagged)} documents have a bad word")
        for source in sorted(set(sources)):
            here = sources == source
            print(f"  {source:24s} {int(flagged[here].sum()):4d} / {int(here.sum())}")
        texts = table.column("text").to_pylist()
        hits = Counter(m for i in np.flatnonzero(flagged) for m in set(pattern.findall((texts[i] or "").lower())))
        print("  entries in the most flagged documents:", ", ".join(f"{w} {n}" for w, n in hits.most_common(15)))


if __name__ == "__main__":
    main()
