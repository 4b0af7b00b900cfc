"""Signed session cookies: the person a token link signed in, until the session expires.

A cookie is ``payload.signature``: the payload (account, expiry, a random session id) as
base64url JSON, the signature an HMAC-SHA256 under a key derived from the workspace secret, so
any worker verifies any session without a database read, and nobody forges one. The CSRF token
of a session is an HMAC of its id under the same key: per session, never another's.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Final

import orjson

COOKIE: Final = "consentry_session"
_PURPOSE: Final = b"consentry privacy-center session v1"


def session_key(workspace_secret: bytes) -> bytes:
    """The key of sessions and CSRF tokens, never the workspace secret itself."""
    return hmac.digest(workspace_secret, _PURPOSE, "sha256")


@dataclass(frozen=True, slots=True)
class Session:
    account_id: str
    expires: int
    sid: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.digest(key, payload.encode("ascii"), "sha256"))


def new_session(account_id: str, minutes: int, *, now: float | None = None) -> Session:
    moment = time.time() if now is None else now
    return Session(account_id, int(moment) + minutes * 60, secrets.token_urlsafe(16))


def encode(key: bytes, session: Session) -> str:
    payload = _b64(orjson.dumps({"a": session.account_id, "e": session.expires, "s": session.sid}))
    return f"{payload}.{_sign(key, payload)}"


def decode(key: bytes, cookie: str | None, *, now: float | None = None) -> Session | None:
    """The session a cookie carries, or None when it is absent, forged or expired."""
    if not cookie or not cookie.isascii():  # what encode makes is ASCII; anything else is not
        return None
    payload, dot, signature = cookie.partition(".")
    if not dot or not hmac.compare_digest(signature, _sign(key, payload)):
        return None
    try:
        data = orjson.loads(_unb64(payload))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    account, expires, sid = data.get("a"), data.get("e"), data.get("s")
    if not (isinstance(account, str) and isinstance(expires, int) and isinstance(sid, str)):
        return None
    if (time.time() if now is None else now) >= expires:
        return None
    return Session(account, expires, sid)


def csrf_token(key: bytes, session: Session) -> str:
    return _b64(hmac.digest(key, f"csrf:{session.sid}".encode("ascii"), "sha256"))


def csrf_valid(key: bytes, session: Session, token: str | None) -> bool:
    if token is None or not token.isascii():  # compare_digest takes ASCII text only
        return False
    return hmac.compare_digest(token, csrf_token(key, session))
