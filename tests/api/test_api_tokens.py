"""The token checker: a verified token is remembered, but never trusted beyond its expiry, and
nothing that failed verification is remembered."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from consentry.api import tokens
from consentry.errors import UsageError
from consentry.ids import MAX_ID_CHARS

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
    monkeypatch.setattr(tokens, "accept_plain", lambda key, token, now: None)
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


OFFSETS = [-3600, -200, -40, -20, 20, 40, 200, 3600]  # never at ±leeway


def mostly(valid: object, *odd: object) -> st.SearchStrategy[object]:
    """``valid`` six times in seven: most examples differ from a good token in one way or two,
    so that acceptances (what the property is about) are frequent."""
    return st.sampled_from([valid] * 6 * max(1, len(odd)) + list(odd))


claim_values = {
    "sub": mostly("42", None, "", 7),
    "aud": mostly("consentry", None, "other", ["consentry"]),
    "exp": mostly(3600, None, *OFFSETS, True, "9999999999", 1.5),
    "iat": mostly(0, None, *OFFSETS, "soon"),
    "nbf": mostly(None, *OFFSETS),
    "iss": mostly(None, "platform"),
    "jti": mostly(None, 7),
}
TIMED = ("exp", "iat", "nbf")


@settings(max_examples=400, deadline=None)
@given(
    claims=st.fixed_dictionaries(claim_values),
    header=mostly({}, {"kid": "k1"}, {"crit": ["b64"]}, {"typ": "at+jwt"}),
    algorithm=mostly("HS256", "HS384"),
    key=mostly(KEY, b"x" * 32),
    mutation=mostly(None, "flip", "pad", "dots", "lower"),
)
def test_the_plain_form_accepts_only_what_pyjwt_accepts(
    claims: dict[str, object],
    header: Any,
    algorithm: Any,
    key: Any,
    mutation: object,
) -> None:
    now = time.time()
    payload = {
        name: (int(now) + value if name in TIMED and type(value) is int else value)
        for name, value in claims.items()
        if value is not None
    }
    token = jwt.encode(payload, key, algorithm=algorithm, headers=header or None)
    if mutation == "flip":
        i = len(token) // 2
        token = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    elif mutation == "pad":
        token = token + "=="
    elif mutation == "dots":
        token = token + ".x"
    elif mutation == "lower":
        token = token.lower()
    accepted = tokens.accept_plain(KEY, token, now)
    event(f"plain form accepted: {accepted is not None}")
    if accepted is not None:
        assert tokens._verify(KEY, token) == accepted  # PyJWT agrees, subject and expiry


ACCOUNT_IDS = st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40)


@given(account=ACCOUNT_IDS, ttl=st.integers(1, 10**6))
def test_the_platforms_tokens_take_the_plain_path(account: str, ttl: int) -> None:
    now = time.time()
    token = tokens.mint(KEY, account, ttl=ttl, now=now)
    assert tokens.accept_plain(KEY, token, now) == (account, int(now) + ttl)
    assert tokens.accept_plain(b"y" * 32, token, now) is None


@given(
    account=st.one_of(
        st.builds(
            lambda a, c, b: a + c + b,
            ACCOUNT_IDS,
            st.characters(categories=["Cc"]),
            st.text(max_size=5),
        ),
        st.text(min_size=MAX_ID_CHARS + 1, max_size=MAX_ID_CHARS + 50),
    )
)
def test_a_subject_that_is_no_account_id_is_refused(account: str) -> None:
    """A subject holding a control character (NUL among them), or longer than any id the
    importers take, is neither minted nor accepted by either path."""
    with pytest.raises(UsageError):
        tokens.mint(KEY, account)
    now = time.time()
    token = jwt.encode(
        {"sub": account, "aud": "consentry", "exp": int(now) + 60}, KEY, algorithm="HS256"
    )
    assert tokens.accept_plain(KEY, token, now) is None
    with pytest.raises(tokens.InvalidTokenError):
        tokens.TokenChecker(KEY).account_of(token)
