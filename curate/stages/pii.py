"""``pii``: finds personal data (e-mail and IP addresses, phone, payment card and IBAN numbers, user patterns)
and replaces it, annotates it or drops the documents that hold it.

Candidates come from bounded regular expressions and are then checked:
cards by the Luhn checksum and the networks' number ranges, IBANs by the
mod-97 checksum and the country's length, IP addresses with ``ipaddress``.
Left alone as not personal (but counted as ``exempted``): documentation
addresses and ranges (example.com/.org/.net and the .example, .test, .invalid,
.localhost TLDs; 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32),
loopback, link-local, multicast and reserved addresses, private ranges unless
``redact_private_ips``, dotted numbers after "version", "release", ... or made
of single digits (1.2.3.4), 555-01xx numbers, and the test card numbers and
example IBANs that standards and payment processors publish. See docs/pii.md.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, field_validator

from curate.pii import KINDS, Detector
from curate.pii.checks import CheckOptions
from curate.pii.redact import hash_token, placeholder, replace, span_column
from curate.stage import MapStage, StageParams, Stats
from curate.stages.text_units import texts
from curate.tables import decide, drop_mask, set_column

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class PiiParams(StageParams):
    mode: Literal["replace", "annotate", "drop"] = Field(
        "replace", description="replace: write a token in place of each match; annotate: text unchanged, spans in "
                               "the column pii_spans; drop: drop documents with more than max_matches of a kind.")
    email: bool = Field(True, description="Find e-mail addresses.")
    ip: bool = Field(True, description="Find IPv4 and IPv6 addresses.")
    phone: bool = Field(True, description="Find phone numbers (international +CC, North American, national 0...).")
    card: bool = Field(True, description="Find payment card numbers (Luhn-checked, known card number ranges).")
    iban: bool = Field(True, description="Find IBANs (mod-97 checksum and country length checked).")
    patterns: dict[str, str] = Field({}, description="More kinds: name -> Python regex "
                                     "(matched per document, found before the built-in kinds).")
    replace_with: Literal["placeholder", "hash"] = Field(
        "placeholder", description="placeholder: <EMAIL>, <IP>, ...; hash: <EMAIL_1a2b3c4d5e6f>, the same for the "
                                   "same value and salt.")
    salt: str = Field("", description="Key of the hash tokens; set a secret one, or tokens can be matched to "
                                      "guessed values.")
    redact_private_ips: bool = Field(False, description="Also treat private ranges (10/8, 172.16/12, 192.168/16, "
                                                        "100.64/10, fc00::/7) as personal data.")
    max_matches: int = Field(0, ge=0, description="mode drop: drop documents with more matches of one kind.")

    @field_validator("patterns")
    @classmethod
    def _check_patterns(cls, value: dict[str, str]) -> dict[str, str]:
        for name, regex in value.items():
            if not NAME.match(name) or name in KINDS or name == "spans":
                raise ValueError(f"pattern name {name!r}: use lowercase letters, digits and _, not a built-in kind")
            try:
                re.compile(regex)
            except re.error as exc:
                raise ValueError(f"pattern {name!r} is not a valid regular expression: {exc}") from exc
        return value


class Pii(MapStage[PiiParams]):
    """Personal data replaced, annotated or dropped; columns ``pii_<kind>`` (matches per document), ``pii_spans``.

    Stats: ``checked`` (documents not dropped before), per kind ``matches``,
    ``documents`` (with at least one match) and ``exempted`` (left alone as
    documentation, private, reserved or version-like).
    """

    name = "pii"
    Params = PiiParams

    def __init__(self, params: PiiParams | None = None, **kwargs: object) -> None:
        super().__init__(params, **kwargs)
        p = self.params
        enabled = tuple(kind for kind in KINDS if getattr(p, kind))
        self.detector = Detector(enabled, p.patterns, CheckOptions(redact_private_ips=p.redact_private_ips))

    def process_batch(self, batch: pa.Table) -> tuple[pa.Table, Stats]:
        p = self.params
        live = ~drop_mask(batch)
        text = texts(batch)
        found = self.detector.find(text)
        spans = found.personal()
        counts = spans.counts()
        for kind, values in counts.items():
            batch = set_column(batch, f"pii_{kind}", values.astype(np.int32))
        if p.mode == "replace":
            if p.replace_with == "hash":
                names = [self.detector.kinds[k] for k in spans.kind.tolist()]
                tokens = [hash_token(kind, value, p.salt) for kind, value in zip(names, spans.values)]
            else:
                fixed = [placeholder(kind) for kind in self.detector.kinds]
                tokens = [fixed[k] for k in spans.kind.tolist()]
            column = batch.column("text").combine_chunks()
            batch = batch.set_column(batch.schema.get_field_index("text"), "text",
                                     replace(column, text, spans, tokens))
        elif p.mode == "annotate":
            batch = set_column(batch, "pii_spans", span_column(spans))
        else:
            batch = self._drop(batch, counts)
        exempted = found.counts(exempt=True)
        return batch, {"checked": int(live.sum()),
                       "matches": {kind: int(counts[kind][live].sum()) for kind in self.detector.kinds},
                       "documents": {kind: int((counts[kind][live] > 0).sum()) for kind in self.detector.kinds},
                       "exempted": {kind: int(exempted[kind][live].sum()) for kind in self.detector.kinds}}

    def _drop(self, batch: pa.Table, counts: dict[str, np.ndarray]) -> pa.Table:
        """Drop documents with more than ``max_matches`` of a kind; the first such kind names the reason."""
        limit = self.params.max_matches
        reasons = np.full(batch.num_rows, None, dtype=object)
        details = np.full(batch.num_rows, None, dtype=object)
        for kind in reversed(self.detector.kinds):  # the first kind in priority order wins
            over = counts[kind] > limit
            reasons[over] = f"contains_{kind}"
            details[over] = [f"{kind}={n} > {limit}" for n in counts[kind][over].tolist()]
        return decide(self.name, batch, "drop", reasons != None, reasons, details)  # noqa: E711

