"""Build tests/fixtures/pii_fixture.jsonl: candidate personal data from real text, with hand-given labels.

Candidates are found by *broad* patterns, looser than the ``pii`` stage's own
(any token with an ``@``, any four dotted numbers, any run of 7-15 digits
with separators, ...), so that the fixture holds what the stage misses as
well as what it finds. Each candidate is kept with about 70 characters of
context on either side. Labels (true: personal data of that kind, false: not)
are read from tests/fixtures/pii_labels.tsv, written by a person reading each
candidate in its context under the rules in docs/pii.md; candidates without a
label are listed with ``--show`` for labelling.

Sources are split: ``dev`` (may be looked at while writing the stage) and
``heldout`` (only measured). Card numbers and IBANs are rare in real text, so
the fixture adds *planted* ones, labelled by construction: valid numbers
(checksum and number range right) are true, the same numbers with one digit
changed are false.

    python scripts/build_pii_fixture.py            # writes the fixture
    python scripts/build_pii_fixture.py --show     # prints unlabelled candidates
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks._corpora import DEFAULT_CORPORA, read_corpus  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "pii_fixture.jsonl"
LABELS = REPO / "tests" / "fixtures" / "pii_labels.tsv"
CONTEXT = 70
SEED = 13

BROAD = {
    "email": re.compile(r"[^\s<>()\[\]{}\"'`,;:|/\\]*[A-Za-z0-9]@[A-Za-z0-9][^\s<>()\[\]{}\"'`,;:|/\\]*"),
    "ip": re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)"
                     r"|(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])"),
    "phone": re.compile(r"(?<![\w+.\-])\+?\(?\d[\d ().\-]{5,20}\d(?![\w])"),
    "card": re.compile(r"(?<![\w\-])\d(?:[ \-]?\d){12,18}(?![\w])"),
    "iban": re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2} ?[A-Z0-9]{4}[A-Z0-9 ]{6,30}"),
}
TRAILING = ".,;:!?)>]'\""
DOTTED_QUAD = re.compile(r"\(?\d+\.\d+\.\d+\.\d+")
TIME = re.compile(r"\d{1,2}:\d{2}(?::\d{2})+")

# (source, group or None, split, quota per kind, documents read)
SOURCES = (
    ("spamassassin_emails", "easy-ham-1", "dev", {"email": 45, "ip": 45, "phone": 35}, 600),
    ("python311_doc_rst", None, "dev", {"email": 15, "ip": 15, "phone": 15}, 497),
    ("spamassassin_emails", "spam-2", "heldout", {"email": 40, "ip": 40, "phone": 40, "card": 30, "iban": 10},
     1396),
    ("spamassassin_emails", "hard-ham-1", "heldout", {"email": 20, "ip": 20, "phone": 20}, 250),
    ("web_pages", None, "heldout", {"email": 25, "ip": 15, "phone": 30, "card": 20, "iban": 20}, 990),
    ("debian_copyright_files", None, "heldout", {"email": 20, "ip": 10, "phone": 10}, 740),
    ("postgresql_doc_html", None, "heldout", {"email": 10, "ip": 20, "phone": 15}, 1169),
    ("perl_doc_pod", None, "heldout", {"email": 15, "ip": 15, "phone": 15}, 207),
)


def _candidates(kind: str, text: str) -> list[tuple[int, int]]:
    out = []
    for match in BROAD[kind].finditer(text):
        start, end = match.start(), match.end()
        while end > start and text[end - 1] in TRAILING:
            end -= 1
        candidate = text[start:end]
        if kind in ("ip", "phone", "card") and not any(c.isdigit() for c in candidate):
            continue
        digits = sum(c.isdigit() for c in candidate)
        if kind == "phone" and (not 7 <= digits <= 15 or DOTTED_QUAD.fullmatch(candidate)
                                or (candidate.isdigit() and digits not in (10, 11))):
            continue  # dotted quads are IP candidates; long bare digit runs are ids, not phone numbers
        if kind == "ip" and ":" in candidate and (TIME.fullmatch(candidate) or not (
                candidate.count(":") >= 3 or ("::" in candidate and len([g for g in candidate.split(":") if g]) >= 2))):
            continue
        if kind == "email" and "." not in candidate.split("@")[-1] and "localhost" not in candidate:
            continue
        out.append((start, end))
    return out


def real_candidates() -> list[dict]:
    rows = []
    for source, group, split, quotas, limit in SOURCES:
        pools: dict[str, list[dict]] = defaultdict(list)
        rngs: dict[str, random.Random] = {}
        for record in read_corpus(DEFAULT_CORPORA, source, limit=limit if group is None else None):
            if group is not None and record.get("group") != group:
                continue
            text = record.get("text") or ""
            for kind in quotas:
                rng = rngs.setdefault(kind, random.Random(f"{SEED}/{source}/{group}/{kind}"))
                spans = _candidates(kind, text)
                for start, end in rng.sample(spans, min(2, len(spans))):  # at most 2 per document and kind
                    left, right = max(0, start - CONTEXT), min(len(text), end + CONTEXT)
                    pools[kind].append({
                        "id": f"{source}/{record['id']}/{kind}/{start}", "kind": kind, "split": split,
                        "source": source if group is None else f"{source}:{group}", "planted": False,
                        "context": text[left:right], "start": start - left, "end": end - left,
                        "candidate": text[start:end]})
        for kind, quota in quotas.items():
            rows += rngs[kind].sample(pools[kind], min(quota, len(pools[kind])))
    return rows


CARD_PREFIXES = ("4", "51", "53", "55", "2221", "2720", "34", "37", "6011", "65", "3530", "36")
CARD_TEMPLATES = ("Please charge my card {} for the renewal.", "Visa/MC number: {} exp 09/27",
                  "kreditkarte {} gültig bis 12/26", "card no. {}, CVV on the back",
                  "payment details -- {} -- thanks!")
IBAN_COUNTRIES = {"DE": 22, "AT": 20, "CH": 21, "FR": 27, "NL": 18, "GB": 22, "PL": 28, "ES": 24, "IT": 27,
                  "BE": 16}
IBAN_TEMPLATES = ("Bankverbindung: IBAN {} BIC GENODEF1XXX", "please transfer to {} by Friday",
                  "Konto (IBAN): {}.", "IBAN {}\nKontoinhaber: Verein e.V.")


def _luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def _card(rng: random.Random) -> str:
    prefix = rng.choice(CARD_PREFIXES)
    length = 15 if prefix in ("34", "37") else 14 if prefix == "36" else 16
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return body + _luhn_digit(body)


def _grouped(number: str, rng: random.Random) -> str:
    if len(number) == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i:i + 4] for i in range(0, len(number), 4)]
    return rng.choice(("", " ", "-")).join(groups)


def _iban(rng: random.Random) -> str:
    country = rng.choice(sorted(IBAN_COUNTRIES))
    bban = "".join(rng.choice("0123456789") for _ in range(IBAN_COUNTRIES[country] - 4))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    return f"{country}{check:02d}{bban}"


def _changed(number: str, rng: random.Random) -> str:
    """The number with one digit (not the first two characters) changed: every checksum here then fails."""
    positions = [i for i in range(2, len(number)) if number[i].isdigit()]
    at = rng.choice(positions)
    digit = rng.choice([d for d in "0123456789" if d != number[at]])
    return number[:at] + digit + number[at + 1:]


def planted_candidates() -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    for kind, make, templates, count in (("card", _card, CARD_TEMPLATES, 40), ("iban", _iban, IBAN_TEMPLATES, 30)):
        for index in range(count):
            number = make(rng)
            for valid, value in ((True, number), (False, _changed(number, rng))):
                shown = _grouped(value, rng) if kind == "card" else (
                    " ".join(value[i:i + 4] for i in range(0, len(value), 4)) if rng.random() < 0.5 else value)
                template = templates[index % len(templates)]
                context = template.format(shown)
                start = context.index(shown)
                rows.append({"id": f"planted/{kind}/{index}/{'valid' if valid else 'invalid'}", "kind": kind,
                             "split": "planted", "source": "planted", "planted": True, "context": context,
                             "start": start, "end": start + len(shown), "candidate": shown, "label": valid,
                             "note": "planted: valid checksum" if valid else "planted: one digit changed"})
    return rows


def read_labels() -> dict[str, tuple[bool, str]]:
    labels = {}
    if LABELS.exists():
        for line in LABELS.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                key, value, *note = line.split("\t")
                labels[key] = (value.strip() == "1", note[0] if note else "")
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", action="store_true", help="print unlabelled candidates instead of writing")
    args = parser.parse_args()
    labels = read_labels()
    rows = real_candidates()
    unlabelled = [row for row in rows if row["id"] not in labels]
    if args.show:
        for row in unlabelled:
            ctx = row["context"]
            shown = (ctx[:row["start"]] + "[[" + ctx[row["start"]:row["end"]] + "]]" + ctx[row["end"]:])
            print(f"{row['id']}\t{row['kind']}\t{row['candidate']}\t{shown.replace(chr(10), ' ⏎ ').replace(chr(9), ' ')}")
        print(f"{len(unlabelled)} unlabelled of {len(rows)}", file=sys.stderr)
        return
    if unlabelled:
        raise SystemExit(f"{len(unlabelled)} candidates have no label in {LABELS}: run with --show and label them")
    for row in rows:
        row["label"], row["note"] = labels[row["id"]]
    rows += planted_candidates()
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    with open(FIXTURE, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} candidates to {FIXTURE.relative_to(REPO)}")


if __name__ == "__main__":
    main()
