"""The policy file: the shipped default, and every kind of problem `policy check` must report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consentry.errors import PolicyError, UsageError
from consentry.model import Decision, Reason, Scope
from consentry.policy import check_policy, default_policy_text, load_policy
from consentry.policy.loader import MANDATORY_EXCLUSIONS, parse_policy


def test_default_policy_is_opt_in_everywhere() -> None:
    policy = load_policy()
    assert set(policy.purposes) == {"train", "fine_tune", "share", "answer"}
    assert policy.scopes == (Scope.POSTS, Scope.INTERACTIONS, Scope.ASSISTANT)
    for country in (None, "FR", "US", "BR"):
        for purpose in policy.purposes:
            assert policy.default_for(country, purpose) is Decision.DENY
    assert policy.minimum_age == 18
    assert policy.unknown_age == "include"
    assert policy.exclusions >= MANDATORY_EXCLUSIONS
    assert Reason.ACCOUNT_INACTIVE in policy.exclusions
    assert len(policy.sha256) == 64


def test_jurisdiction_overrides() -> None:
    text = default_policy_text() + (
        '\n[jurisdictions.US]\ndecision = "grant"\nminimum_age = 13\n'
        '[jurisdictions.US.purposes]\nanswer = "deny"\n'
    )
    policy = parse_policy(text, source="t")
    assert policy.default_for("US", "train") is Decision.GRANT
    assert policy.default_for("US", "answer") is Decision.DENY
    assert policy.default_for("FR", "train") is Decision.DENY
    assert policy.minimum_age_for("US") == 13
    assert policy.minimum_age_for("FR") == 18


def test_policy_may_add_a_purpose() -> None:
    text = default_policy_text() + '\n[purposes.ads]\ndescription = "Ad targeting"\n'
    assert "ads" in parse_policy(text, source="t").purposes


def test_require_purpose_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown purpose 'nope'.*fine_tune, share, answer"):
        load_policy().require_purpose("nope")


def _problems(extra: str, *, drop: str | None = None) -> list[str]:
    text = default_policy_text()
    if drop:
        assert drop in text
        text = text.replace(drop, "")
    with pytest.raises(PolicyError) as info:
        parse_policy(text + "\n" + extra, source="t")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ('[jurisdictions.XX]\ndecision = "grant"', "jurisdictions.XX", "unknown country code"),
        ('[jurisdictions.fr]\ndecision = "grant"', "jurisdictions.fr", "unknown country code"),
        ('[jurisdictions.DE]\ndecision = "maybe"', "jurisdictions.DE.decision", "unknown decision"),
        ("[jurisdictions.DE]\ndecision = 1", "jurisdictions.DE.decision", "wrong type"),
        (
            '[jurisdictions.DE.purposes]\nads = "grant"',
            "jurisdictions.DE.purposes.ads",
            "unknown purpose",
        ),
        ("[jurisdictions.DE]\nminimum_age = 200", "jurisdictions.DE.minimum_age", "out of range"),
        ('[jurisdictions.DE]\nminimum_age = "16"', "jurisdictions.DE.minimum_age", "wrong type"),
        ("[jurisdictions.DE]\nminimum_age = true", "jurisdictions.DE.minimum_age", "wrong type"),
        ('[jurisdictions.DE]\nflavour = "x"', "jurisdictions.DE.flavour", "unknown key"),
        ('[purposes.Bad-Name]\ndescription = "x"', "purposes.Bad-Name", "invalid purpose name"),
        ("[purposes.ads]\ndescription = 3", "purposes.ads.description", "wrong type"),
        ('[colour]\nx = "y"', "colour", "unknown key"),
    ],
)
def test_each_problem_names_key_and_reason(extra: str, key: str, reason: str) -> None:
    problems = _problems(extra)
    assert any(p.startswith(f"{key}:") and reason in p for p in problems), problems


@pytest.mark.parametrize(
    ("line", "check"),
    [
        ("minimum = 18\n", lambda p: p.minimum_age == 18),
        ('unknown = "include"\n', lambda p: p.unknown_age == "include"),
        ('time_granularity = "day"\n', lambda p: p.time_granularity == "day"),
    ],
)
def test_missing_optional_values_fall_back_to_defaults(line: str, check: Any) -> None:
    text = default_policy_text()
    assert line in text
    assert check(parse_policy(text.replace(line, "", 1), source="t"))


def test_unknown_default_decision() -> None:
    text = default_policy_text().replace('decision = "deny"', 'decision = "perhaps"', 1)
    assert any(p.startswith("defaults.decision: unknown decision") for p in _problems_of(text))


def _problems_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="t")
    return [str(p) for p in info.value.problems]


def test_age_and_snapshot_values_are_checked() -> None:
    text = (
        default_policy_text()
        .replace('unknown = "include"', 'unknown = "ignore"')
        .replace("minimum = 18", "minimum = -1")
        .replace('time_granularity = "day"', 'time_granularity = "week"')
    )
    problems = _problems_of(text)
    assert any(p.startswith("age.unknown:") for p in problems)
    assert any(p.startswith("age.minimum:") and "out of range" in p for p in problems)
    assert any(p.startswith("snapshot.time_granularity:") for p in problems)


def test_mandatory_exclusions_cannot_be_removed() -> None:
    text = default_policy_text().replace('  "minor",\n', "").replace('  "direct_message",\n', "")
    problems = _problems_of(text)
    assert "exclusions.always: minor cannot be removed: no consent overrides it" in problems
    assert any("direct_message cannot be removed" in p for p in problems)


def test_account_inactive_exclusion_may_be_removed() -> None:
    text = default_policy_text().replace('  "account_inactive",\n', "")
    assert Reason.ACCOUNT_INACTIVE not in parse_policy(text, source="t").exclusions


def test_exclusions_reject_unknown_and_consent_codes() -> None:
    text = default_policy_text().replace(
        '  "minor",\n', '  "minor",\n  "no_consent",\n  "bogus",\n'
    )
    problems = _problems_of(text)
    assert any("no_consent is decided by consent" in p for p in problems)
    assert any("unknown reason code 'bogus'" in p for p in problems)


def test_share_purpose_is_required() -> None:
    lines = default_policy_text().splitlines(keepends=True)
    i = lines.index("[purposes.share]\n")
    text = "".join(lines[:i] + lines[i + 2 :])
    assert any(p.startswith("purposes.share: missing") for p in _problems_of(text))


def test_unknown_scope() -> None:
    text = default_policy_text().replace('"assistant"]', '"assistant", "photos"]')
    assert any(p.startswith("scopes.names[3]: unknown scope 'photos'") for p in _problems_of(text))


def test_all_problems_are_reported_at_once() -> None:
    extra = '[jurisdictions.XX]\ndecision = "grant"\n[jurisdictions.DE]\ndecision = "maybe"\n'
    assert len(_problems(extra)) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is = = not toml", "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: str | bytes, reason: str) -> None:
    path = tmp_path / "p.toml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    problems = check_policy(path)
    assert len(problems) == 1 and reason in str(problems[0])


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in str(check_policy(tmp_path / "absent.toml")[0])


def test_default_file_round_trips_through_check(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(default_policy_text())
    assert check_policy(path) == []
