"""People's bearer tokens: JWTs minted by the platform, ``sub`` = account id, HS256.

The signing key lives in the workspace (``jwt_key``, 32 random bytes as hex, mode 0600, made at
first use) or in ``CONSENTRY_JWT_KEY``, like the workspace secret. The platform that signs people
in holds the same key and mints a token per session; ``consentry token`` mints one for tests.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Final, TypeGuard

import jwt
import orjson

from consentry.errors import UsageError, WorkspaceError
from consentry.ids import check_id
from consentry.workspace import Workspace

ENV_JWT_KEY: Final = "CONSENTRY_JWT_KEY"
KEY_FILE: Final = "jwt_key"
ALGORITHM: Final = "HS256"
AUDIENCE: Final = "consentry"
DEFAULT_TTL: Final = 3600
#: Tolerated clock difference between the platform that mints and the service that checks.
LEEWAY_S: Final = 30


class InvalidTokenError(Exception):
    """The token is malformed, expired, or not signed with the workspace's key."""


def signing_key(ws: Workspace) -> bytes:
    """The workspace's JWT key, created (0600) on first use. Never print or log it."""
    env = os.environ.get(ENV_JWT_KEY)
    if env is not None:
        return _decode(env, ENV_JWT_KEY)
    path = ws.root / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return _read(path)


def _read(path: Path) -> bytes:
    # Another worker may have created the file a moment ago: wait for its content.
    for _ in range(50):
        text = path.read_text("ascii").strip()
        if text:
            return _decode(text, str(path))
        time.sleep(0.01)
    raise WorkspaceError(f"{path} is empty")


def _decode(text: str, where: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise WorkspaceError(f"the JWT key in {where} is not hex") from None
    if len(key) < 32:
        raise WorkspaceError(f"the JWT key in {where} must be at least 32 bytes (64 hex digits)")
    return key


def mint(key: bytes, account_id: str, *, ttl: int = DEFAULT_TTL, now: float | None = None) -> str:
    """A token for ``account_id``; ``UsageError`` when it is no account id (``check_id``)."""
    check_id(account_id)
    issued = int(now if now is not None else time.time())
    claims = {"sub": account_id, "aud": AUDIENCE, "iat": issued, "exp": issued + ttl}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def account_of(key: bytes, token: str) -> str:
    """The account a valid token speaks for; ``InvalidTokenError`` otherwise."""
    return _verify(key, token)[0]


def _verify(key: bytes, token: str) -> tuple[str, int]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],  # never "none", never an algorithm the token picks
            audience=AUDIENCE,
            leeway=LEEWAY_S,
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from None
    sub = claims.get("sub")
    if not _is_account_id(sub):
        raise InvalidTokenError("the token's subject is not an account id")
    return sub, int(claims["exp"])


def _is_account_id(sub: object) -> TypeGuard[str]:
    # A subject the importers would refuse as an id is never recorded, nor looked up.
    if not isinstance(sub, str):
        return False
    try:
        check_id(sub)
    except UsageError:
        return False
    return True


_PLAIN_HEADERS: Final = ({"alg": ALGORITHM, "typ": "JWT"}, {"alg": ALGORITHM})
_PLAIN_CLAIMS: Final = frozenset({"sub", "aud", "exp", "iat", "nbf"})


def _b64(segment: str) -> bytes:
    return base64.b64decode(segment + "=" * (-len(segment) % 4), altchars=b"-_", validate=True)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def accept_plain(key: bytes, token: str, now: float) -> tuple[str, int] | None:
    """The (account, expiry) of a valid token of the plain form the platform mints, or None:
    None is no verdict (PyJWT then decides), never an acceptance.

    Why by hand: PyJWT's general decode costs ~70 µs a token, more than the rest of a consent
    read; the plain form (header exactly HS256/JWT, claims among sub, aud, exp, iat, nbf, all of
    simple types) needs one HMAC and a JSON parse. The checks are PyJWT's for that form, and a
    property test holds this function to PyJWT: whatever it accepts, PyJWT accepts, with the
    same subject; anything unusual is left to PyJWT.
    """
    header_b64, dot, rest = token.partition(".")
    payload_b64, dot2, signature_b64 = rest.partition(".")
    if not dot or not dot2 or "." in signature_b64:
        return None
    try:
        signature = _b64(signature_b64)
        expected = hmac.digest(key, f"{header_b64}.{payload_b64}".encode("ascii"), "sha256")
        if not hmac.compare_digest(signature, expected):
            return None
        header = orjson.loads(_b64(header_b64))
        claims = orjson.loads(_b64(payload_b64))
    except (ValueError, UnicodeEncodeError):  # binascii.Error and orjson's are ValueErrors
        return None
    if header not in _PLAIN_HEADERS or not isinstance(claims, dict):
        return None
    if not claims.keys() <= _PLAIN_CLAIMS:
        return None
    sub, aud, exp = claims.get("sub"), claims.get("aud"), claims.get("exp")
    if not _is_account_id(sub) or aud != AUDIENCE or not _is_int(exp):
        return None
    for claim in ("iat", "nbf"):
        if claim in claims and not (_is_int(claims[claim]) and claims[claim] <= now + LEEWAY_S):
            return None
    if now > exp + LEEWAY_S:
        return None
    return sub, exp


class TokenChecker:
    """``account_of`` for one key, remembering the tokens it already verified until they expire.

    A person's app sends the same token with every request of a session; verifying it again
    costs more than the rest of a consent read. Only valid tokens are remembered, keyed by the
    whole token, so a token is never trusted beyond its ``exp``. A token not remembered is
    checked by ``accept_plain`` and, when that gives no verdict, by PyJWT.
    """

    def __init__(self, key: bytes, size: int = 65_536) -> None:
        self._key = key
        self._size = size
        self._valid: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def account_of(self, token: str, *, now: float | None = None) -> str:
        seen = self._valid.get(token)
        moment = time.time() if now is None else now
        if seen is not None and moment <= seen[1] + LEEWAY_S:
            return seen[0]
        self._valid.pop(token, None)
        plain = accept_plain(self._key, token, moment)
        account, expires = plain or _verify(self._key, token)
        self._valid[token] = (account, expires)
        if len(self._valid) > self._size:
            self._valid.popitem(last=False)
        return account
