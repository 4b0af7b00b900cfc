"""People's bearer tokens: JWTs minted by the platform, ``sub`` = account id, HS256.

The signing key lives in the workspace (``jwt_key``, 32 random bytes as hex, mode 0600, made at
first use) or in ``CONSENTRY_JWT_KEY``, like the workspace secret. The platform that signs people
in holds the same key and mints a token per session; ``consentry token`` mints one for tests.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Final

import jwt

from consentry.errors import WorkspaceError
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
    if not isinstance(sub, str) or not sub:
        raise InvalidTokenError("the token's subject is not an account id")
    return sub, int(claims["exp"])


class TokenChecker:
    """``account_of`` for one key, remembering the tokens it already verified until they expire.

    A person's app sends the same token with every request of a session; verifying it again
    (PyJWT: parse, HMAC, claims) costs more than the rest of a consent read. Only valid tokens
    are remembered, keyed by the whole token, so a token is never trusted beyond its ``exp``.
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
        account, expires = _verify(self._key, token)
        self._valid[token] = (account, expires)
        if len(self._valid) > self._size:
            self._valid.popitem(last=False)
        return account
