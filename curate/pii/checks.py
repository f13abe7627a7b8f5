"""Which candidates are personal data: checksums, documentation ranges, version numbers, dates.

Each ``check_<kind>(line, start, end, options)`` looks at one candidate (``line[start:end]``)
and returns ``None`` when it is not of that kind at all (a version number, a
date, a failed checksum) or a :class:`Verdict`: the span to redact (possibly
trimmed), whether it is *exempt* (of the kind, but not personal: a
documentation address, a private range, a test card number) and the
normalised value that hash tokens are computed from. Exempt candidates are
counted and still block overlapping candidates of other kinds (a private IP
address is not then redacted as a phone number), but are left in the text.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple


class Verdict(NamedTuple):
    start: int
    end: int
    exempt: bool
    value: str


@dataclass(frozen=True)
class CheckOptions:
    """Switches the checks read: whether private address ranges count as personal data."""

    redact_private_ips: bool = False


# Reserved for documentation by RFC 2606 / RFC 6761: second-level domains and top-level domains.
EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net")
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local"})
# Names like icon@2x.png are file names, not addresses.
FILE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "txt", "css", "js",
                             "html", "htm", "php", "zip", "gz"})


def check_email(line: str, start: int, end: int, options: CheckOptions) -> Verdict | None:
    address = line[start:end]
    domain = address[address.rindex("@") + 1:].lower()
    tld = domain.rsplit(".", 1)[-1]
    if tld in FILE_EXTENSIONS:
        return None
    exempt = tld in RESERVED_TLDS or any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS)
    return Verdict(start, end, exempt, address.lower())


DOCUMENTATION_NETWORKS = tuple(ipaddress.ip_network(n) for n in
                               ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32"))
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in
                         ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
# Words before (or after) a dotted number that make it a version, release or section number.
VERSION_BEFORE = re.compile(r"(?:\b(?:version|versions|ver|release|rel|rev|revision|build|patch|update|firmware|"
                            r"kernel|section|sect|chapter|v|r)\.?|[A-Za-z][\-_/])[\s:#]*$", re.IGNORECASE)
VERSION_AFTER = re.compile(r"^[\s\-]*(?:release|version|build|beta|alpha|rc\d|final)\b", re.IGNORECASE)
CONTEXT = 24


def _version_like(line: str, start: int, end: int) -> bool:
    return bool(VERSION_BEFORE.search(line[max(0, start - CONTEXT):start])
                or VERSION_AFTER.match(line[end:end + CONTEXT]))


def _address_exempt(address: ipaddress.IPv4Address | ipaddress.IPv6Address, options: CheckOptions) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in DOCUMENTATION_NETWORKS) or address.is_multicast:
        return True
    if any(address in network for network in PRIVATE_NETWORKS):
        return not options.redact_private_ips
    return not address.is_global


def check_ipv4(line: str, start: int, end: int, options: CheckOptions) -> Verdict | None:
    text = line[start:end]
    octets = text.split(".")
    if any(len(o) > 1 and o[0] == "0" for o in octets) or any(int(o) > 255 for o in octets):
        return None
    if all(len(o) == 1 for o in octets) or _version_like(line, start, end):
        return Verdict(start, end, True, text)  # 1.2.3.4, 1.0.0.1: version-like, never a personal address
    address = ipaddress.IPv4Address(text)
    return Verdict(start, end, _address_exempt(address, options), str(address))


def check_ipv6(line: str, start: int, end: int, options: CheckOptions) -> Verdict | None:
    text = line[start:end]
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    groups = [g for g in text.split(":") if g]
    if len(groups) + ("." in text) < 3:  # 1::2 is a Python slice far more often than an address
        return None
    return Verdict(start, end, _address_exempt(address, options), address.compressed)


DATE = re.compile(r"^(?:\d{4}[\-./ ]\d{1,2}[\-./ ]\d{1,2}|\d{1,2}[\-./ ]\d{1,2}[\-./ ]\d{2,4})$")
NOT_PHONE_BEFORE = re.compile(r"\b(?:ISBN|ISSN|ISBN-1[03])[\s:#]*$", re.IGNORECASE)
NON_DIGIT = re.compile(r"\D")


def check_phone(line: str, start: int, end: int, options: CheckOptions) -> Verdict | None:
    text = line[start:end]
    if DATE.match(text) or NOT_PHONE_BEFORE.search(line[max(0, start - 12):start]):
        return None
    if text.startswith("+"):
        digits = NON_DIGIT.sub("", re.sub(r"\(0\)", "", text))
        if not 8 <= len(digits) <= 15 or len(set(digits)) == 1:
            return None
        return Verdict(start, end, False, "+" + digits)
    digits = NON_DIGIT.sub("", text)
    if len(set(digits)) == 1:
        return None
    if text.startswith("0"):
        return Verdict(start, end, False, digits) if 9 <= len(digits) <= 12 else None
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if len(digits) != 10:
        return None
    area, exchange, number = digits[:3], digits[3:6], digits[6:]
    if area[0] in "01" or exchange[0] in "01" or area[1:] == "11":
        return None
    fictional = exchange == "555" and number.startswith("01")  # 555-0100 to 555-0199: reserved for fiction
    return Verdict(start, end, fictional, digits)


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_network(digits: str) -> str | None:
    """The card network that issues numbers with this prefix and length, or None."""
    n = len(digits)
    two, four = int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= two <= 55 or 2221 <= four <= 2720) and n == 16:
        return "mastercard"
    if two in (34, 37) and n == 15:
        return "amex"
    if (four == 6011 or two == 65 or 644 <= int(digits[:3]) <= 649) and 16 <= n <= 19:
        return "discover"
    if 3528 <= four <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= int(digits[:3]) <= 305 or two in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if (two == 62 or two == 50 or 56 <= two <= 69) and 13 <= n <= 19:
        return "unionpay_maestro"
    return None


# Numbers the card networks and payment processors publish for testing.
TEST_CARDS = frozenset({"4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
                        "5555555555554444", "5105105105105100", "2223003122003222", "378282246310005",
                        "371449635398431", "6011111111111117", "6011000990139424", "3530111333300000",
                        "3566002020360505", "30569309025904", "38520000023237", "4222222222222"})
GROUP = re.compile(r"[ \-]")


def check_card(line: str, start: int, end: int, options: CheckOptions) -> Verdict | None:
    text = line[start:end]
    separators = set(GROUP.findall(text))
    if len(separators) > 1:
        return None
    groups = GROUP.split(text)
    # A number written in groups may be followed by other digits (an expiry date): try whole-group prefixes.
    for count in range(len(groups), 0, -1):
        digits = "".join(groups[:count])
        if not 13 <= len(digits) <= 19:
            continue
        sizes = [len(g) for g in groups[:count]]
        if count > 1 and not (all(s == 4 for s in sizes[:-1]) or sizes[:3] in ([4, 6, 5], [4, 6, 4])):
            continue
        if luhn(digits) and card_network(digits):
            stop = start + sum(sizes) + count - 1
            return Verdict(start, stop, digits in TEST_CARDS or len(set(digits)) == 1, digits)
    return None


# IBAN length per country (ISO 13616 registry).
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "BY": 28,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19,
    "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}
# Example IBANs printed in standards and documentation.
EXAMPLE_IBANS = frozenset({"GB82WEST12345698765432", "GB29NWBK60161331926819", "DE89370400440532013000"})


def iban_checksum_ok(iban: str) -> bool:
    """ISO 7064 mod 97-10: the number with its first four characters moved to the end leaves 1."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def check_iban(line: str, start: int, end: int, options: CheckOptions) -> Verdict | None:
    text = line[start:end]
    length = IBAN_LENGTHS.get(text[:2])
    if length is None:
        return None
    kept, cut = 0, len(text)
    for index, char in enumerate(text):
        if char != " ":
            kept += 1
        if kept == length:
            cut = index + 1
            break
    if kept < length:
        return None
    stop = start + cut
    if stop < len(line) and line[stop].isalnum():  # the number goes on: not this IBAN
        return None
    compact = text[:cut].replace(" ", "")
    if not iban_checksum_ok(compact):
        return None
    return Verdict(start, stop, compact in EXAMPLE_IBANS, compact)
