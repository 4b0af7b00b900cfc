"""The token checker: a verified token is remembered, but never trusted beyond its expiry, and
nothing that failed verification is remembered."""

from __future__ import annotations

import time

import pytest

from consentry.api import tokens

KEY = b"k" * 32


def test_a_remembered_token_is_verified_again_past_its_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verified: list[str] = []
    real = tokens._verify

    def counting(key: bytes, token: str) -> tuple[str, int]:
        verified.append(token)
        return real(key, token)

    monkeypatch.setattr(tokens, "_verify", counting)
    checker = tokens.TokenChecker(KEY)
    now = time.time()
    token = tokens.mint(KEY, "42", ttl=60, now=now)
    assert checker.account_of(token, now=now) == "42"
    assert checker.account_of(token, now=now + 60 + tokens.LEEWAY_S - 1) == "42"
    assert len(verified) == 1  # remembered while valid
    assert checker.account_of(token, now=now + 61 + tokens.LEEWAY_S) == "42"
    assert len(verified) == 2  # past its expiry the memory is not trusted: PyJWT decides
    expired = tokens.mint(KEY, "42", ttl=1, now=now - 3600)
    with pytest.raises(tokens.InvalidTokenError):
        checker.account_of(expired)


def test_failures_are_not_remembered_and_tampering_is_caught() -> None:
    checker = tokens.TokenChecker(KEY)
    good = tokens.mint(KEY, "42")
    checker.account_of(good)
    header, payload, signature = good.split(".")
    forged_sig = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for bad in (f"{header}.{payload}.{forged_sig}", tokens.mint(b"x" * 32, "42"), "a.b.c"):
        for _ in range(2):
            with pytest.raises(tokens.InvalidTokenError):
                checker.account_of(bad)


def test_memory_is_bounded_and_keeps_answering() -> None:
    checker = tokens.TokenChecker(KEY, size=3)
    minted = [tokens.mint(KEY, str(i)) for i in range(10)]
    for _ in range(2):
        assert [checker.account_of(t) for t in minted] == [str(i) for i in range(10)]
    assert len(checker._valid) == 3
