"""Session cookies: what is signed comes back whole; anything altered, expired or signed with
another key is no session; CSRF tokens are per session. And when a cookie is Secure."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from consentry.web import sessions
from consentry.web.config import CenterConfig
from consentry.web.requests import is_https

KEY = sessions.session_key(b"w" * 32)
accounts = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)


@given(accounts, st.integers(1, 10**6))
def test_a_session_comes_back_whole(account: str, ttl: int) -> None:
    now = time.time()
    session = sessions.new_session(account, 1, now=now)
    session = sessions.Session(account, int(now) + ttl, session.sid)
    cookie = sessions.encode(KEY, session)
    assert sessions.decode(KEY, cookie, now=now) == session
    assert sessions.decode(KEY, cookie, now=now + ttl) is None  # expired
    assert sessions.decode(sessions.session_key(b"o" * 32), cookie, now=now) is None


@given(accounts, st.integers(0, 200), st.characters(exclude_categories=["Cs"]))
def test_an_altered_cookie_is_no_session(account: str, at: int, char: str) -> None:
    cookie = sessions.encode(KEY, sessions.new_session(account, 5))
    i = at % len(cookie)
    altered = cookie[:i] + char + cookie[i + 1 :]
    if altered != cookie:
        assert sessions.decode(KEY, altered) is None


def test_csrf_tokens_are_per_session() -> None:
    a, b = sessions.new_session("1", 5), sessions.new_session("1", 5)
    assert sessions.csrf_valid(KEY, a, sessions.csrf_token(KEY, a))
    assert not sessions.csrf_valid(KEY, a, sessions.csrf_token(KEY, b))
    assert not sessions.csrf_valid(KEY, a, None)
    assert not sessions.csrf_valid(KEY, a, "é" + sessions.csrf_token(KEY, a)[1:])


def _request(scheme: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-proto", forwarded.encode())] if forwarded else []
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "path": "/privacy",
            "headers": headers,
            "server": ("10.0.0.5", 80),
            "query_string": b"",
        }
    )


def test_secure_behind_tls_or_a_trusted_proxy_only() -> None:
    trusting, wary = CenterConfig(trust_forwarded_proto=True), CenterConfig()
    assert is_https(_request("https", None), wary)
    assert not is_https(_request("http", "https"), wary)  # anyone can send the header
    assert is_https(_request("http", "https"), trusting)
    assert not is_https(_request("http", "http"), trusting)
