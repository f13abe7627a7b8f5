"""The pii stage: modes, kinds, exemptions, checksums, bad input, and precision/recall on hand-labelled real text."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
from pydantic import ValidationError

from curate.pii import Detector
from curate.pii.checks import iban_checksum_ok, luhn
from curate.stage import DROP_DETAIL, DROP_REASON
from curate.stages import get_stage_class
from curate.stages.pii import Pii
from curate.tables import mark_drops
from tests.conftest import REPO, SAMPLE, documents

FIXTURE = Path(__file__).parent / "fixtures" / "pii_fixture.jsonl"
TEXT = ("Write to Jane.Doe@gmail.com or call +44 20 7946 0958; our server is 66.187.233.211 "
        "and the card was 4539 1488 0343 6467, IBAN GB33 BUKB 2020 1555 5555 55.")


def run(texts, **params):
    out, stats = Pii(**params).process_batch(documents(texts))
    return out, stats


def test_replace_puts_a_placeholder_per_kind_and_counts_them():
    out, stats = run([TEXT, "nothing here", None, ""])
    assert out.column("text").to_pylist()[0] == ("Write to <EMAIL> or call <PHONE>; our server is <IP> and the card "
                                                 "was <CARD>, IBAN <IBAN>.")
    assert out.column("text").to_pylist()[1:] == ["nothing here", None, ""]
    for kind in ("email", "phone", "ip", "card", "iban"):
        assert out.column(f"pii_{kind}").to_pylist() == [1, 0, 0, 0]
        assert stats["matches"][kind] == 1 and stats["documents"][kind] == 1
    assert stats["checked"] == 4


def test_hash_tokens_are_the_same_for_the_same_value_and_salt():
    texts = ["mail a@gmail.com", "again A@Gmail.com and b@gmail.com"]
    first = run(texts, replace_with="hash", salt="s1")[0].column("text").to_pylist()
    token = first[0].split()[-1]
    assert token.startswith("<EMAIL_") and first[1].split()[1] == token  # case of an address does not matter
    assert first[1].split()[-1] != token
    assert run(texts, replace_with="hash", salt="s1")[0].column("text").to_pylist() == first
    assert run(texts, replace_with="hash", salt="s2")[0].column("text").to_pylist()[0] != first[0]


def test_annotate_keeps_the_text_and_gives_spans():
    out, _ = run([TEXT, None], mode="annotate")
    assert out.column("text").to_pylist()[0] == TEXT
    spans = out.column("pii_spans").to_pylist()
    assert spans[1] == []
    found = {span["kind"]: TEXT[span["start"]:span["end"]] for span in spans[0]}
    assert found == {"email": "Jane.Doe@gmail.com", "phone": "+44 20 7946 0958", "ip": "66.187.233.211",
                     "card": "4539 1488 0343 6467", "iban": "GB33 BUKB 2020 1555 5555 55"}


def test_annotate_offsets_count_characters_across_lines_and_scripts():
    text = "Ärger über 日本語\n\nZeile drei: kontakt@beispiel.de\n→ 66.187.233.211"
    spans = run([text], mode="annotate")[0].column("pii_spans").to_pylist()[0]
    assert [text[s["start"]:s["end"]] for s in spans] == ["kontakt@beispiel.de", "66.187.233.211"]


def test_drop_names_the_kind_above_the_limit():
    texts = ["a@gmail.com", "a@gmail.com b@gmail.com call 212-867-5309", "clean"]
    out, _ = run(texts, mode="drop", max_matches=1)
    assert out.column(DROP_REASON).to_pylist() == [None, "contains_email", None]
    assert out.column(DROP_DETAIL).to_pylist()[1] == "email=2 > 1"
    out, _ = run(texts, mode="drop")
    assert out.column(DROP_REASON).to_pylist() == ["contains_email", "contains_email", None]
    assert out.column("text").to_pylist() == texts  # drop mode does not edit texts


def test_documents_dropped_before_are_not_counted():
    table = mark_drops(documents(["a@gmail.com", "b@gmail.com"]), [True, False], "earlier")
    out, stats = Pii(mode="drop").process_batch(table)
    assert stats["checked"] == 1 and stats["matches"]["email"] == 1
    assert out.column(DROP_REASON).to_pylist() == ["earlier", "contains_email"]


def test_kinds_can_be_turned_off_and_user_patterns_added():
    out, stats = run([TEXT + " Ticket TK-123456."], email=False, card=False, patterns={"ticket": r"TK-\d{6}"})
    text = out.column("text").to_pylist()[0]
    assert "Jane.Doe@gmail.com" in text and "4539 1488 0343 6467" in text and "<TICKET>" in text
    assert "pii_email" not in out.column_names and out.column("pii_ticket").to_pylist() == [1]
    assert set(stats["matches"]) == {"ticket", "iban", "ip", "phone"}


@pytest.mark.parametrize("patterns", [{"Bad Name": "x"}, {"email": "x"}, {"ok": "(unclosed"}])
def test_bad_user_patterns_are_parameter_errors(patterns):
    with pytest.raises(ValidationError):
        Pii(patterns=patterns)


def test_registered_under_its_name():
    assert get_stage_class("pii") is Pii


@pytest.mark.parametrize("text", [
    "see user@example.com, info@sub.example.org, x@example.net, me@host.test, root@server.localhost",
    "listening on 127.0.0.1, 0.0.0.0, 192.0.2.15, 198.51.100.7, 203.0.113.9, 2001:db8::1, ::1, fe80::1:2:3",
    "netmask 255.255.255.0 and multicast 224.0.0.251, link-local 169.254.3.4",
    "private hosts 10.1.2.3, 172.16.5.4, 192.168.1.20 and fd12:3456:789a::1",
    "upgrade to version 1.2.3.4 today; the 1.0.0.1 release; v2.4.18.10; fetchmail-5.9.0.1; Section 12.4.2.1",
    "on 2002-08-22 and 22.08.2002, see ISBN 0-13-110362-8; call 555-0123 or (212) 555-0142",
    "test cards 4111 1111 1111 1111 and 4242424242424242; example IBAN GB82 WEST 1234 5698 7654 32",
    "not a card 4539 1488 0343 6468 (Luhn fails); not an IBAN GB34 BUKB 2020 1555 5555 55 (checksum fails)",
])
def test_documentation_private_and_version_like_values_are_left_alone(text):
    out, _ = run([text])
    assert out.column("text").to_pylist() == [text]


def test_ipv6_addresses_are_found_whole():
    text = "from 2a00:1450:4001:81c::200e and ::ffff:66.187.233.211, not a[1::2]"
    assert run([text])[0].column("text").to_pylist() == ["from <IP> and <IP>, not a[1::2]"]


def test_private_ranges_can_be_redacted():
    text = "hosts 10.1.2.3 and 192.168.1.20"
    assert run([text], redact_private_ips=True)[0].column("text").to_pylist() == ["hosts <IP> and <IP>"]


def test_an_exempt_address_does_not_turn_into_a_phone_number():
    _, stats = run(["from 192.168.100.200 via 10.100.200.100"])
    assert stats["matches"] == {kind: 0 for kind in stats["matches"]} and stats["exempted"]["ip"] == 2


def test_checksums():
    assert luhn("4539148803436467") and not luhn("4539148803436468")
    assert iban_checksum_ok("GB33BUKB20201555555555") and not iban_checksum_ok("GB34BUKB20201555555555")


def test_prefilters_change_nothing_on_real_text():
    """The Arrow prefilters only skip lines: the spans are those of the Python patterns run on every line."""
    import pyarrow as pa

    from benchmarks._corpora import sample_table

    contexts = [json.loads(line)["context"] for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    texts = pa.concat_arrays([pa.array(contexts, pa.string()),
                              sample_table(SAMPLE).column("text").combine_chunks().cast(pa.string())])
    kinds = ("email", "iban", "card", "ip", "phone")
    fast, slow = Detector(kinds).find(texts), Detector(kinds, prefilter=False).find(texts)
    assert len(fast.doc) > 500
    for name in ("doc", "start", "end", "kind", "exempt"):
        assert getattr(fast, name).tolist() == getattr(slow, name).tolist()


def test_bad_input_goes_through_without_errors_or_hangs():
    """Binary junk, 1 MB lines without spaces built to make regexes backtrack, other scripts, nulls."""
    script = textwrap.dedent("""
        import random
        from curate.stages.pii import Pii
        from tests.conftest import documents
        rng = random.Random(0)
        m = 1_000_000
        texts = [bytes(rng.randrange(256) for _ in range(m)).decode("latin-1"), "a" * m, "1" * m, "1." * (m // 2),
                 "a@b." * (m // 4), ("x" * 63 + "@") * (m // 64), "+1 " * (m // 3), "1 " * (m // 2),
                 "ab:" * (m // 3), "DE89" * (m // 4), "(1) " * (m // 4), "人人生而自由，在尊严和权利上一律平等。" * 20000,
                 "يولد جميع الناس أحراراً متساوين في الكرامة والحقوق." * 1000, None, "", "\\x00\\x01\\ufffd" * 100]
        for mode in ("replace", "annotate", "drop"):
            out, stats = Pii(mode=mode).process_batch(documents(texts))
            assert out.num_rows == len(texts)
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


# Floors for the fixture (tests/fixtures/pii_fixture.jsonl; labelling rules in docs/pii.md). Measured on the
# held-out sources: e-mail P 0.98 R 0.98 (122 true), IP P 0.77 R 1.00 (47 true), phone P 0.88 R 0.85 (27 true),
# IBAN and cards 1.00 (real IBANs and planted numbers). Each floor is the measurement less about two errors at
# that sample size, so a change that costs a few more errors fails.
# Cards and IBANs: real IBANs and planted numbers together (split "all").
FLOORS = {"email": ("heldout", 0.95, 0.95), "ip": ("heldout", 0.70, 0.95), "phone": ("heldout", 0.78, 0.75),
          "card": ("all", 0.99, 0.99), "iban": ("all", 0.99, 0.99)}


def fixture_scores() -> dict[tuple[str, str], tuple[int, int, int]]:
    """(kind, split) -> (true positives, false positives, false negatives); split ``all`` sums the others."""
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    out, _ = Pii(mode="annotate").process_batch(documents([row["context"] for row in rows]))
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row, spans in zip(rows, out.column("pii_spans").to_pylist()):
        found = any(s["kind"] == row["kind"] and s["start"] < row["end"] and s["end"] > row["start"] for s in spans)
        slot = 0 if found and row["label"] else 1 if found else 2 if row["label"] else None
        if slot is not None:
            for split in (row["split"], "all"):
                counts[(row["kind"], split)][slot] += 1
    return {key: tuple(value) for key, value in counts.items()}


def test_precision_and_recall_on_hand_labelled_real_text():
    scores = fixture_scores()
    for kind, (split, min_precision, min_recall) in FLOORS.items():
        tp, fp, fn = scores[(kind, split)]
        assert tp + fn >= 18, f"{kind}: too few true examples in the fixture"
        assert tp / (tp + fp) >= min_precision, f"{kind}: precision {tp / (tp + fp):.3f} < {min_precision}"
        assert tp / (tp + fn) >= min_recall, f"{kind}: recall {tp / (tp + fn):.3f} < {min_recall}"
    # no real-text number that is not a payment card is taken for one
    assert scores.get(("card", "heldout"), (0, 0, 0))[1] == 0
