"""IP addresses, validated by the standard library's ``ipaddress``.

IPv4: four dot-separated numbers, not glued to letters or to a fifth number, so that version
strings (``v1.2.3.4``, ``1.2.3.4.5``) are not addresses; octets over 255 and leading zeros are
refused as ``ipaddress`` refuses them, by one RE2 pattern over the batch's candidates.
IPv6: hex groups and colons; ``ipaddress`` decides, and we also want two
non-empty groups with four hex digits in all, so that ``a::b`` in code or prose is not one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Final

from consentry.scrub.registry import RegexDetector, whole_when

_OCTET: Final = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
#: What ``ipaddress.IPv4Address`` accepts: four decimal octets, none over 255, no leading zero.
IPV4_ADDRESS: Final = f"^{_OCTET}(?:\\.{_OCTET}){{3}}$"


def validate_ipv6(candidate: str) -> Sequence[tuple[int, int]]:
    # What ``ipaddress`` requires first, at a fraction of its cost (times, ``15:26:04``, are a
    # third of the candidates in number-rich text): without ``::``, eight groups, the last
    # two perhaps written as an IPv4 address.
    colons = candidate.count(":")
    if "::" not in candidate and colons != 7 and not (colons == 6 and "." in candidate):
        return []
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return []
    groups = [g for g in candidate.split(":") if g]
    if len(groups) < 2 or sum(len(g) for g in groups) < 4:
        return []
    return [(0, len(candidate))]


IPV4: Final = RegexDetector(
    name="ipv4",
    type="ip",
    prefilter="\\d\\.\\d{1,3}\\.\\d{1,3}\\.\\d",
    needs=".",
    before="^|[^A-Za-z0-9_.\\-]",
    body="\\d{1,3}(?:\\.\\d{1,3}){3}",
    reject_after="^(?:\\.\\d|[A-Za-z0-9_])",
    validate_batch=whole_when(IPV4_ADDRESS),
)

IPV6: Final = RegexDetector(
    name="ipv6",
    type="ip",
    prefilter="[0-9A-Fa-f]?:[0-9A-Fa-f]{0,4}:",
    needs=":",
    before="^|[^A-Za-z0-9_:.]",
    body="[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\\.\\d{1,3}){0,3}",
    reject_after="^[A-Za-z0-9_:]",
    validate=validate_ipv6,
)
