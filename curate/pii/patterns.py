"""Candidate patterns per kind: a Python regex that finds candidates and a looser RE2 prefilter.

Every quantifier is bounded and every repeated group starts with a character
its neighbours cannot (a separator, a ``.``), so the Python patterns cannot
backtrack catastrophically: the work per start position is bounded by a
constant, and the lookbehinds keep starts inside a run of word characters
from being tried at all. None of the patterns crosses a line break, so they
run on single lines.

The RE2 prefilters accept every line on which a Python pattern can find a
candidate that its check keeps (they are the patterns without lookarounds,
loosened); Arrow evaluates them over
all lines of a batch at once in linear time, and the Python patterns only
run on the lines they select.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    """``regex`` finds candidates on one line; ``prefilter`` (RE2) matches every line that can hold one."""

    regex: re.Pattern[str]
    prefilter: str


_LOCAL = r"[A-Za-z0-9._%+=\-]"
EMAIL = Pattern(
    re.compile(rf"(?<!{_LOCAL}){_LOCAL}{{1,64}}@"
               r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}"
               r"(?![A-Za-z0-9\-])", re.ASCII),
    r"[A-Za-z0-9._%+=\-]@[A-Za-z0-9\-]+\.",
)

IPV4 = Pattern(
    re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)", re.ASCII),
    r"\d\.\d{1,3}\.\d{1,3}\.\d",
)
# Hex groups and colons (at least two colons), optionally ending in an embedded IPv4 address.
IPV6 = Pattern(
    re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
               r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\w)", re.ASCII),
    r"[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{0,4}:|::[0-9A-Fa-f]",
)

_SEP = r"[ .\-]"
PHONE = Pattern(
    re.compile(
        r"(?<![\w+.\-/])(?:"
        # international: +CC (never 0), an optional trunk or area code in parentheses, groups split by separators
        rf"\+[1-9]\d{{0,2}}(?:{_SEP}?\(\d{{0,4}}\))?{_SEP}?\d{{1,12}}(?:{_SEP}\d{{1,8}}){{0,5}}"
        # North American: (555) 123-4567, 555-123-4567, 555.123.4567, 1-800-555-1234
        rf"|(?:1{_SEP}?)?\(\d{{3}}\){_SEP}?\d{{3}}[.\-]\d{{4}}"
        r"|(?:1[.\- ])?\d{3}([.\-])\d{3}\1\d{4}"
        # national with a trunk 0: 030 1234 5678, 0171-1234567, 089/123456
        r"|0\d{1,4}[ /\-]\d{2,4}(?:[ \-]?\d{2,5}){1,2}"
        r")(?![\w\-]|[.,/]\d)",
        re.ASCII,
    ),
    r"\d(?:[ .\-()/]{0,3}\d){7}",  # every kept phone number has 8 digits or more
)

CARD = Pattern(
    re.compile(r"(?<![\w\-.,])\d(?:[ \-]?\d){12,18}(?![\w\-]|[.,]\d)", re.ASCII),
    r"\d(?:[ \-]?\d){12}",
)

IBAN = Pattern(
    re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}", re.ASCII),
    r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11}",
)
