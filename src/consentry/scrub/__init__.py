"""Scrubbing personal data out of texts, and keyed pseudonyms for ids.

    from consentry.scrub import scrub_array, MentionResolver, Pseudonymiser

    p = Pseudonymiser(secret, recipient="acme")
    resolver = MentionResolver(accounts["handle"], accounts["id"], p)
    result = scrub_array(content["text"], mentions=resolver)
    result.text, result.pii, result.counts

Detectors live in a registry (``default_registry()``); each is small, with its pattern, its
validator and its table of test cases. See ``scrubber`` for the path of a batch.
"""

from __future__ import annotations

from consentry.scrub.detectors import BUILTIN, default_registry
from consentry.scrub.pseudonym import Domain, Pseudonymiser
from consentry.scrub.registry import Detector, RegexDetector, Registry
from consentry.scrub.resolver import MentionResolver
from consentry.scrub.scrubber import ScrubResult, detect_spans, scrub_array, scrub_text
from consentry.scrub.types import KEPT_TYPES, PII_TYPES, PLACEHOLDERS, Span

__all__ = [
    "BUILTIN",
    "KEPT_TYPES",
    "PII_TYPES",
    "PLACEHOLDERS",
    "Detector",
    "Domain",
    "MentionResolver",
    "Pseudonymiser",
    "RegexDetector",
    "Registry",
    "ScrubResult",
    "Span",
    "default_registry",
    "detect_spans",
    "scrub_array",
    "scrub_text",
]
