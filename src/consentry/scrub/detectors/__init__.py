"""The built-in detectors, and the default registry in priority order.

Order matters only where two detections start at the same place and end at the same place
(see ``found.settle_overlaps``): otherwise the leftmost, then longest, wins. Emails come before
URLs and handles because an address contains what looks like both.
"""

from __future__ import annotations

from consentry.scrub.detectors import phones, urls
from consentry.scrub.detectors.cards import CARDS
from consentry.scrub.detectors.emails import EMAILS
from consentry.scrub.detectors.hashtags import CASHTAGS, HASHTAGS
from consentry.scrub.detectors.ibans import IBANS
from consentry.scrub.detectors.ips import IPV4, IPV6
from consentry.scrub.detectors.mentions import MENTIONS
from consentry.scrub.detectors.phones import PHONES, phone_detector
from consentry.scrub.detectors.urls import URLS
from consentry.scrub.registry import Detector, Registry
from consentry.scrub.types import KEPT_TYPES

BUILTIN: tuple[Detector, ...] = (
    EMAILS,
    URLS,
    IBANS,
    CARDS,
    IPV4,
    IPV6,
    PHONES,
    MENTIONS,
    HASHTAGS,
    CASHTAGS,
)

#: What ``scrub_array`` runs by default: the detectors of replaced types. Hashtags and cashtags
#: are kept and never shadow a replaced span (see ``scrubber.detect``), so scrubbing need not
#: look for them; ``detect_spans`` does, for evaluation and conformance.
SCRUBBING: tuple[Detector, ...] = tuple(d for d in BUILTIN if d.type not in KEPT_TYPES)


def warm() -> None:
    """Compile now what the detectors compile when first used (``phones.warm``, ``urls.warm``):
    for a process that forks the ones that scrub."""
    phones.warm()
    urls.warm()


def default_registry() -> Registry:
    """A fresh registry with every built-in detector (the optional name detector is not one)."""
    return Registry(BUILTIN)


__all__ = ["BUILTIN", "SCRUBBING", "default_registry", "phone_detector"]
