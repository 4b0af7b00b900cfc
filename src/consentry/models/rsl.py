"""The licensing offer as an RSL 1.0 document (Really Simple Licensing, RSL-SPEC-1.0,
https://rslstandard.org/rsl, published 2025-11-06).

What the specification asks of a license file, and this document follows:

- the root ``<rsl>`` in the namespace ``https://rslstandard.org/rsl`` holds one or more
  ``<content>`` elements, each naming a licensable asset by its ``url`` (a full URL, or a path
  matched by the Robots Exclusion Protocol's rules, RFC 9309);
- a ``<content>`` holds one or more ``<license>`` elements (and optionally ``<terms>``, a URL);
- a ``<license>`` holds ``<permits>`` / ``<prohibits>`` (``type`` ``usage``, ``user`` or
  ``geo``; usage tokens ``all``, ``ai-all``, ``ai-train``, ``ai-input``, ``ai-index``,
  ``search``), optionally one ``<payment>`` and ``<legal>``;
- a ``<payment>`` has a ``type`` (``free``, ``purchase``, ``subscription``, ``training``,
  ``crawl``, ``use``, ``contribution``, ``attribution``) and holds ``<amount currency="ISO
  4217">`` (a decimal), ``<standard>`` or ``<custom>`` (URLs).

Each plan is one ``<license>`` over the snapshots a licensee downloads (``/v1/snapshots/``): AI
training permitted, a monthly subscription at the plan's price. ``check_rsl`` is the grammar
above, written from the specification, that the tests hold the document to.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Final

from consentry.api.plans import Plan
from consentry.errors import WorkspaceError

NAMESPACE: Final = "https://rslstandard.org/rsl"
MEDIA_TYPE: Final = "application/rsl+xml"
#: What the plans license: the snapshot files the licensee API serves.
CONTENT_PATH: Final = "/v1/snapshots/"
DEFAULT_CURRENCY: Final = "USD"
USAGE_TOKENS: Final = frozenset({"all", "ai-all", "ai-train", "ai-input", "ai-index", "search"})
USER_TOKENS: Final = frozenset(
    {"commercial", "non-commercial", "education", "government", "personal"}
)
PERMIT_TYPES: Final = frozenset({"usage", "user", "geo"})
PAYMENT_TYPES: Final = frozenset(
    {"free", "purchase", "subscription", "training", "crawl", "use", "contribution", "attribution"}
)
_CURRENCY: Final = re.compile(r"^[A-Z]{3}$")
_DECIMAL: Final = re.compile(r"^\d+(\.\d+)?$")
_CONTENT_CHILDREN: Final = frozenset(
    f"{{{NAMESPACE}}}{n}" for n in ("license", "terms", "copyright", "schema", "alternate")
)
_URL: Final = re.compile(r"^(https?://[^\s]+|/[^\s]*)$")


def rsl_settings(section: object) -> tuple[str, str | None]:
    """The currency of the plans' prices and an optional terms URL, from config.toml's
    ``[rsl]`` (``currency = "EUR"``, ``terms = "https://…"``)."""
    if section is None:
        return DEFAULT_CURRENCY, None
    if not isinstance(section, dict):
        raise WorkspaceError("config.toml: [rsl] must be a table")
    unknown = sorted(set(section) - {"currency", "terms"})
    if unknown:
        raise WorkspaceError(
            f"config.toml: rsl.{unknown[0]}: unknown key (allowed: currency, terms)"
        )
    currency = section.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise WorkspaceError(
            f"config.toml: rsl.currency: {currency!r} is not an ISO 4217 code such as EUR"
        )
    terms = section.get("terms")
    if terms is not None and (not isinstance(terms, str) or not terms.startswith("https://")):
        raise WorkspaceError(f"config.toml: rsl.terms: {terms!r} is not an https:// URL")
    return currency, terms


def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


def rsl_document(
    plans: Sequence[Plan], currency: str = DEFAULT_CURRENCY, terms: str | None = None
) -> bytes:
    """The plans as an RSL 1.0 license file: deterministic bytes (plans by name)."""
    ET.register_namespace("", NAMESPACE)
    root = ET.Element(_q("rsl"))
    content = ET.SubElement(root, _q("content"), {"url": CONTENT_PATH})
    for plan in sorted(plans, key=lambda p: p.name):
        license_ = ET.SubElement(content, _q("license"))
        ET.SubElement(license_, _q("permits"), {"type": "usage"}).text = "ai-train"
        payment = ET.SubElement(license_, _q("payment"), {"type": "subscription"})
        amount = ET.SubElement(payment, _q("amount"), {"currency": currency})
        amount.text = f"{plan.monthly_price_cents // 100}.{plan.monthly_price_cents % 100:02d}"
    if not plans:
        # No plan yet: nothing is offered, and saying so is the honest document.
        license_ = ET.SubElement(content, _q("license"))
        ET.SubElement(license_, _q("prohibits"), {"type": "usage"}).text = "ai-train"
    if terms is not None:
        ET.SubElement(content, _q("terms")).text = terms
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def check_rsl(document: bytes) -> list[str]:
    """The problems of ``document`` against RSL 1.0's grammar (see the module's docstring);
    empty when it conforms."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    problems: list[str] = []
    if root.tag != _q("rsl"):
        return [f"the root is {root.tag}, not <rsl> in {NAMESPACE}"]
    contents = list(root)
    if not contents:
        problems.append("<rsl> holds no <content>")
    urls: set[str] = set()
    for content in contents:
        if content.tag != _q("content"):
            problems.append(f"<rsl> holds {content.tag}: only <content>")
            continue
        url = content.get("url")
        if not url or not _URL.match(url):
            problems.append(f"<content url={url!r}>: a full URL or a path is required")
        elif url in urls:
            problems.append(f"<content url={url!r}> appears twice: each names a distinct asset")
        urls.add(url or "")
        licenses = [e for e in content if e.tag == _q("license")]
        if not licenses:
            problems.append(f"<content url={url!r}> holds no <license>")
        for child in content:
            if child.tag not in {
                _q(n) for n in ("license", "terms", "copyright", "schema", "alternate")
            }:
                problems.append(f"<content> holds {child.tag}")
        for license_ in licenses:
            problems += _check_license(license_)
    return problems


def _check_license(license_: ET.Element) -> list[str]:
    problems: list[str] = []
    payments = 0
    for child in license_:
        name = child.tag.removeprefix(f"{{{NAMESPACE}}}")
        if name in ("permits", "prohibits"):
            kind = child.get("type")
            if kind not in PERMIT_TYPES:
                problems.append(f"<{name} type={kind!r}>: the type is usage, user or geo")
                continue
            tokens = re.split(r"[\s,]+", (child.text or "").strip())
            allowed = {"usage": USAGE_TOKENS, "user": USER_TOKENS}.get(kind)
            for token in tokens:
                if allowed is not None and token not in allowed:
                    problems.append(f"<{name} type={kind!r}>: unknown token {token!r}")
                if kind == "geo" and not re.match(r"^[A-Z]{2}$", token):
                    problems.append(f"<{name} type='geo'>: {token!r} is no ISO 3166-1 code")
        elif name == "payment":
            payments += 1
            problems += _check_payment(child)
        elif name != "legal":
            problems.append(f"<license> holds <{name}>")
    if payments > 1:
        problems.append("<license> holds more than one <payment>")
    return problems


def _check_payment(payment: ET.Element) -> list[str]:
    problems: list[str] = []
    kind = payment.get("type", "free")
    if kind not in PAYMENT_TYPES:
        problems.append(f"<payment type={kind!r}>: unknown payment type")
    for child in payment:
        name = child.tag.removeprefix(f"{{{NAMESPACE}}}")
        if name == "amount":
            currency = child.get("currency")
            if not currency or not _CURRENCY.match(currency):
                problems.append(f"<amount currency={currency!r}>: an ISO 4217 code is required")
            if not _DECIMAL.match((child.text or "").strip()):
                problems.append(f"<amount>{child.text!r}</amount>: a decimal number is required")
        elif name in ("standard", "custom"):
            if not _URL.match((child.text or "").strip()):
                problems.append(f"<{name}>: a URL is required")
        else:
            problems.append(f"<payment> holds <{name}>")
    return problems
