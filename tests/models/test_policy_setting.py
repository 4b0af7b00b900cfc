"""The policy's one models setting, ``[models] retrain_within_days``: its default, a value of
one's own, and each bad value named by its key."""

from __future__ import annotations

import pytest

from consentry.errors import PolicyError
from consentry.policy.loader import default_policy_text, load_policy, parse_policy


def _with(line: str) -> str:
    text = default_policy_text()
    assert "retrain_within_days = 90" in text
    return text.replace("retrain_within_days = 90", line)


def test_the_default_and_a_value_of_ones_own() -> None:
    assert load_policy().retrain_within_days == 90
    assert parse_policy(_with("retrain_within_days = 30"), source="p").retrain_within_days == 30
    # A policy written before the setting existed keeps the default.
    older = default_policy_text().split("[models]")[0]
    assert parse_policy(older, source="p").retrain_within_days == 90


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("retrain_within_days = 0", "out of range"),
        ("retrain_within_days = 4000", "out of range"),
        ('retrain_within_days = "90"', "wrong type"),
        ("retrain_within_days = true", "wrong type"),
        ("retrain_in_days = 90", "unknown key"),
    ],
)
def test_bad_values_name_the_key(line: str, reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(_with(line), source="p")
    (problem,) = caught.value.problems
    assert problem.key.startswith("models.") and reason in problem.reason
