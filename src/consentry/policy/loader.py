"""Policy files: TOML → a validated, immutable ``Policy``.

Validation collects every problem (key + reason) instead of stopping at the first, so that
``consentry policy check`` can list them all in one go.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import pycountry

from consentry.errors import PolicyError, PolicyProblem, UsageError
from consentry.model import SHARE, Decision, Reason, Scope

DEFAULT_POLICY_NAME: Final = "default.toml"
_T = TypeVar("_T")

#: Exclusions the mission promises whatever a policy says: never minors, DMs, non-public posts,
#: protected accounts, deleted accounts or deleted content.
MANDATORY_EXCLUSIONS: Final = frozenset(
    {
        Reason.ACCOUNT_DELETED,
        Reason.MINOR,
        Reason.PROTECTED_ACCOUNT,
        Reason.DIRECT_MESSAGE,
        Reason.NOT_PUBLIC,
        Reason.CONTENT_DELETED,
    }
)
#: Reasons a policy may list under ``exclusions.always`` (the others depend on consent or dedup).
CONFIGURABLE_EXCLUSIONS: Final = MANDATORY_EXCLUSIONS | {Reason.ACCOUNT_INACTIVE}

TIME_GRANULARITIES: Final = ("day", "hour", "second")
DEFAULT_RETRAIN_DAYS: Final = 90
#: As for acknowledgements (``recipients.MAX_ACK_DAYS``): beyond ten years is no deadline.
MAX_RETRAIN_DAYS: Final = 3650
_PURPOSE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")  # ISO 639-1
_TOP_LEVEL_KEYS: Final = frozenset(
    {
        "version",
        "purposes",
        "scopes",
        "defaults",
        "jurisdictions",
        "age",
        "exclusions",
        "snapshot",
        "descriptions",
        "models",
    }
)


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    decision: Decision | None = None
    purposes: Mapping[str, Decision] = field(default_factory=dict)
    minimum_age: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    purposes: Mapping[str, str]
    scopes: tuple[Scope, ...]
    default_decision: Decision
    jurisdictions: Mapping[str, Jurisdiction]
    minimum_age: int
    unknown_age: Literal["include", "exclude"]
    exclusions: frozenset[Reason]
    time_granularity: str
    source: str
    sha256: str
    #: Per purpose, its description in other languages (``[descriptions.LANG]``, by ISO 639-1
    #: code), for the pages people read; ``purposes`` holds the default text.
    translations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Days a model trained on records later withdrawn, deleted or erased has to be retrained
    #: or unlearned before its exposure shows as overdue (``[models] retrain_within_days``).
    retrain_within_days: int = DEFAULT_RETRAIN_DAYS

    def description(self, purpose: str, language: str) -> str:
        return self.translations.get(purpose, {}).get(language) or self.purposes[purpose]

    def default_for(self, country: str | None, purpose: str) -> Decision:
        """The decision that counts for an account of ``country`` that never decided ``purpose``."""
        rule = self.jurisdictions.get(country) if country else None
        if rule is not None:
            if purpose in rule.purposes:
                return rule.purposes[purpose]
            if rule.decision is not None:
                return rule.decision
        return self.default_decision

    def minimum_age_for(self, country: str | None) -> int:
        rule = self.jurisdictions.get(country) if country else None
        if rule is not None and rule.minimum_age is not None:
            return rule.minimum_age
        return self.minimum_age

    def require_purpose(self, purpose: str) -> None:
        if purpose not in self.purposes:
            known = ", ".join(self.purposes)
            raise UsageError(f"unknown purpose {purpose!r}: the policy {self.source} knows {known}")


def default_policy_text() -> str:
    return resources.files("consentry.policy").joinpath(DEFAULT_POLICY_NAME).read_text("utf-8")


def load_policy(path: Path | str | None = None) -> Policy:
    """Load and validate a policy file (the shipped default when ``path`` is None)."""
    if path is None:
        return parse_policy(default_policy_text(), source="<default>")
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except FileNotFoundError:
        raise PolicyError([PolicyProblem("", "file not found")], str(p)) from None
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyProblem("", f"not UTF-8 text ({exc.reason})")], str(p)) from None
    return parse_policy(text, source=str(p))


def check_policy(path: Path | str) -> list[PolicyProblem]:
    try:
        load_policy(path)
    except PolicyError as exc:
        return list(exc.problems)
    return []


def parse_policy(text: str, *, source: str) -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([PolicyProblem("", f"not valid TOML: {exc}")], source) from None
    problems: list[PolicyProblem] = []
    parser = _Parser(raw, problems)
    policy = parser.parse(source, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if problems:
        raise PolicyError(problems, source)
    return policy


class _Parser:
    def __init__(self, raw: dict[str, Any], problems: list[PolicyProblem]) -> None:
        self.raw = raw
        self.problems = problems

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(PolicyProblem(key, reason))

    def table(self, key: str, value: object, *, required: bool = False) -> dict[str, Any]:
        if value is None:
            if required:
                self.problem(key, "missing")
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"wrong type: expected a table, got {_type_name(value)}")
            return {}
        return value

    def typed(self, key: str, value: object, kind: type[_T], default: _T) -> _T:
        # bool is a subclass of int: an int field must not accept true/false silently.
        if value is None:
            return default
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(key, f"wrong type: expected {kind.__name__}, got {_type_name(value)}")
            return default
        return value

    def decision(self, key: str, value: object) -> Decision | None:
        if not isinstance(value, str):
            self.problem(key, f'wrong type: expected "grant" or "deny", got {_type_name(value)}')
            return None
        try:
            return Decision(value)
        except ValueError:
            self.problem(key, f'unknown decision {value!r} (expected "grant" or "deny")')
            return None

    def unknown_keys(self, key: str, table: Mapping[str, object], allowed: set[str]) -> None:
        for name in table:
            if name not in allowed:
                where = f"{key}.{name}" if key else name
                self.problem(where, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def parse(self, source: str, sha256: str) -> Policy:
        raw = self.raw
        self.unknown_keys("", raw, set(_TOP_LEVEL_KEYS))
        version = self.typed("version", raw.get("version"), str, "")
        if not version:
            self.problem("version", "missing")
        purposes = self.parse_purposes()
        scopes = self.parse_scopes()
        defaults = self.table("defaults", raw.get("defaults"))
        self.unknown_keys("defaults", defaults, {"decision"})
        default_decision = Decision.DENY
        if "decision" in defaults:
            default_decision = self.decision("defaults.decision", defaults["decision"]) or (
                Decision.DENY
            )
        jurisdictions = self.parse_jurisdictions(purposes)
        minimum_age, unknown_age = self.parse_age()
        exclusions = self.parse_exclusions()
        snapshot = self.table("snapshot", raw.get("snapshot"))
        self.unknown_keys("snapshot", snapshot, {"time_granularity"})
        granularity = self.typed(
            "snapshot.time_granularity", snapshot.get("time_granularity"), str, "day"
        )
        if granularity not in TIME_GRANULARITIES:
            self.problem(
                "snapshot.time_granularity",
                f"unknown granularity {granularity!r} "
                f"(expected one of {', '.join(TIME_GRANULARITIES)})",
            )
        return Policy(
            version=version,
            purposes=purposes,
            scopes=scopes,
            default_decision=default_decision,
            jurisdictions=jurisdictions,
            minimum_age=minimum_age,
            unknown_age=unknown_age,
            exclusions=exclusions,
            time_granularity=granularity,
            source=source,
            sha256=sha256,
            translations=self.parse_descriptions(purposes),
            retrain_within_days=self.parse_models(),
        )

    def parse_models(self) -> int:
        table = self.table("models", self.raw.get("models"))
        self.unknown_keys("models", table, {"retrain_within_days"})
        key = "models.retrain_within_days"
        days = self.typed(key, table.get("retrain_within_days"), int, DEFAULT_RETRAIN_DAYS)
        if not 1 <= days <= MAX_RETRAIN_DAYS:
            self.problem(key, f"out of range: {days} (expected 1 to {MAX_RETRAIN_DAYS})")
            return DEFAULT_RETRAIN_DAYS
        return days

    def parse_purposes(self) -> dict[str, str]:
        table = self.table("purposes", self.raw.get("purposes"), required=True)
        purposes: dict[str, str] = {}
        for name, body in table.items():
            key = f"purposes.{name}"
            if not _PURPOSE_NAME.match(name):
                self.problem(key, "invalid purpose name (lowercase letters, digits and _)")
                continue
            spec = self.table(key, body)
            self.unknown_keys(key, spec, {"description"})
            purposes[name] = self.typed(f"{key}.description", spec.get("description"), str, "")
        if table and SHARE not in purposes:
            self.problem("purposes.share", "missing: recipient snapshots require the share purpose")
        return purposes

    def parse_descriptions(self, purposes: Mapping[str, str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for language, body in self.table("descriptions", self.raw.get("descriptions")).items():
            key = f"descriptions.{language}"
            if not _LANGUAGE.match(language):
                self.problem(key, "not an ISO 639-1 code (two lower-case letters)")
                continue
            for purpose, text in self.table(key, body).items():
                if purpose not in purposes:
                    self.problem(f"{key}.{purpose}", "unknown purpose")
                elif not isinstance(text, str) or not text.strip():
                    self.problem(f"{key}.{purpose}", "must be a non-empty string")
                else:
                    out.setdefault(purpose, {})[language] = text
        return out

    def parse_scopes(self) -> tuple[Scope, ...]:
        table = self.table("scopes", self.raw.get("scopes"))
        self.unknown_keys("scopes", table, {"names"})
        names = table.get("names", [s.value for s in Scope])
        if not isinstance(names, list):
            self.problem("scopes.names", f"wrong type: expected array, got {_type_name(names)}")
            return tuple(Scope)
        scopes: list[Scope] = []
        for i, name in enumerate(names):
            try:
                scopes.append(Scope(name))
            except ValueError:
                known = ", ".join(s.value for s in Scope)
                self.problem(f"scopes.names[{i}]", f"unknown scope {name!r} (known: {known})")
        return tuple(scopes)

    def parse_jurisdictions(self, purposes: Mapping[str, str]) -> dict[str, Jurisdiction]:
        table = self.table("jurisdictions", self.raw.get("jurisdictions"))
        out: dict[str, Jurisdiction] = {}
        for code, body in table.items():
            key = f"jurisdictions.{code}"
            if not (len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code)):
                self.problem(key, f"unknown country code {code!r} (expected ISO 3166-1 alpha-2)")
                continue
            spec = self.table(key, body)
            self.unknown_keys(key, spec, {"decision", "purposes", "minimum_age"})
            decision = (
                self.decision(f"{key}.decision", spec["decision"]) if "decision" in spec else None
            )
            per_purpose: dict[str, Decision] = {}
            for purpose, value in self.table(f"{key}.purposes", spec.get("purposes")).items():
                pkey = f"{key}.purposes.{purpose}"
                if purpose not in purposes:
                    self.problem(pkey, f"unknown purpose {purpose!r}")
                    continue
                d = self.decision(pkey, value)
                if d is not None:
                    per_purpose[purpose] = d
            age = spec.get("minimum_age")
            minimum_age = None
            if age is not None:
                minimum_age = self.typed(f"{key}.minimum_age", age, int, 0)
                self.check_age(f"{key}.minimum_age", minimum_age)
            out[code] = Jurisdiction(decision, per_purpose, minimum_age)
        return out

    def check_age(self, key: str, age: int) -> None:
        if not 0 <= age <= 120:
            self.problem(key, f"out of range: {age} (expected 0 to 120)")

    def parse_age(self) -> tuple[int, Literal["include", "exclude"]]:
        table = self.table("age", self.raw.get("age"))
        self.unknown_keys("age", table, {"minimum", "unknown"})
        minimum = self.typed("age.minimum", table.get("minimum"), int, 18)
        self.check_age("age.minimum", minimum)
        unknown = self.typed("age.unknown", table.get("unknown"), str, "include")
        if unknown == "exclude":
            return minimum, "exclude"
        if unknown != "include":
            self.problem("age.unknown", f"unknown value {unknown!r} (expected include or exclude)")
        return minimum, "include"

    def parse_exclusions(self) -> frozenset[Reason]:
        table = self.table("exclusions", self.raw.get("exclusions"))
        self.unknown_keys("exclusions", table, {"always"})
        names = table.get("always")
        if names is None:
            return frozenset(CONFIGURABLE_EXCLUSIONS)
        if not isinstance(names, list):
            self.problem(
                "exclusions.always", f"wrong type: expected array, got {_type_name(names)}"
            )
            return frozenset(CONFIGURABLE_EXCLUSIONS)
        reasons: set[Reason] = set()
        for i, name in enumerate(names):
            key = f"exclusions.always[{i}]"
            try:
                reason = Reason.from_code(str(name))
            except ValueError:
                self.problem(key, f"unknown reason code {name!r}")
                continue
            if reason not in CONFIGURABLE_EXCLUSIONS:
                self.problem(
                    key, f"{reason.code} is decided by consent or deduplication, not listed here"
                )
                continue
            reasons.add(reason)
        for missing in sorted(MANDATORY_EXCLUSIONS - reasons):
            self.problem(
                "exclusions.always", f"{missing.code} cannot be removed: no consent overrides it"
            )
        return frozenset(reasons | MANDATORY_EXCLUSIONS)


def _type_name(value: object) -> str:
    return {
        str: "string",
        int: "integer",
        float: "float",
        bool: "boolean",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)
