"""A workspace: the folder that holds one platform's ledger, policy, secret and content.

    ROOT/                     (default ./.consentry; --workspace or CONSENTRY_WORKSPACE)
      config.toml             database URL and policy file
      policy.toml             the policy in force (a copy of the shipped default at init)
      secret                  32 random bytes (hex), mode 0600: the root of pseudonym keys
      ledger.db               the ledger, when it is SQLite (the default)
      content/                imported content (Parquet)
      quarantine/             rejected input rows, with file, line, field and reason
      snapshots/              built snapshots

``CONSENTRY_DB`` overrides the database URL and ``CONSENTRY_SECRET`` the secret file, so that a
production deployment can keep both out of the folder.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from consentry.errors import WorkspaceError
from consentry.ledger import LedgerStore, open_ledger
from consentry.policy import Policy, default_policy_text, load_policy

DEFAULT_ROOT: Final = Path(".consentry")
ENV_ROOT: Final = "CONSENTRY_WORKSPACE"
ENV_DB: Final = "CONSENTRY_DB"
ENV_SECRET: Final = "CONSENTRY_SECRET"
CONFIG_NAME: Final = "config.toml"
SECRET_BYTES: Final = 32
_MAKE_SECRET: Final = (
    'make one with `python -c "import secrets; print(secrets.token_hex(32))"` '
    "(or let `consentry init` write one)"
)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path
    db_url: str
    policy_path: Path

    @property
    def content_dir(self) -> Path:
        return self.root / "content"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def deliveries_dir(self) -> Path:
        """Private delivery maps (raw ids of what each snapshot holds): never hand them out."""
        return self.root / "deliveries"

    @property
    def certificates_dir(self) -> Path:
        return self.root / "certificates"

    @property
    def secret_path(self) -> Path:
        return self.root / "secret"

    def ledger(self) -> LedgerStore:
        return open_ledger(self.db_url, create=True)

    def policy(self) -> Policy:
        return load_policy(self.policy_path)

    def secret(self) -> bytes:
        """The workspace secret. Never print, log or write it anywhere else."""
        env = os.environ.get(ENV_SECRET)
        text = env if env is not None else self._read_secret_file()
        try:
            value = bytes.fromhex(text.strip())
        except ValueError:
            where = ENV_SECRET if env is not None else str(self.secret_path)
            raise WorkspaceError(f"the secret in {where} is not hex: {_MAKE_SECRET}") from None
        if len(value) < 16:
            raise WorkspaceError(
                f"the workspace secret must be at least 16 bytes (32 hex digits): {_MAKE_SECRET}"
            )
        return value

    def _read_secret_file(self) -> str:
        try:
            return self.secret_path.read_text("ascii")
        except FileNotFoundError:
            raise WorkspaceError(
                f"no secret at {self.secret_path} and {ENV_SECRET} is not set"
            ) from None

    @staticmethod
    def locate(root: Path | str | None = None) -> Path:
        if root is not None:
            return Path(root)
        return Path(os.environ.get(ENV_ROOT) or DEFAULT_ROOT)

    @classmethod
    def open(cls, root: Path | str | None = None) -> Workspace:
        path = cls.locate(root)
        config_path = path / CONFIG_NAME
        if not config_path.is_file():
            raise WorkspaceError(
                f"no workspace at {path} (run `consentry init`, or point --workspace / "
                f"{ENV_ROOT} at one)"
            )
        try:
            config = tomllib.loads(config_path.read_text("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise WorkspaceError(f"{config_path}: not valid TOML: {exc}") from None
        db_url = os.environ.get(ENV_DB) or config.get("db")
        if not isinstance(db_url, str) or not db_url:
            raise WorkspaceError(f"{config_path}: key 'db' (the database URL) is missing")
        policy = config.get("policy", "policy.toml")
        if not isinstance(policy, str):
            raise WorkspaceError(f"{config_path}: key 'policy' must be a string path")
        policy_path = Path(policy) if Path(policy).is_absolute() else path / policy
        return cls(path, db_url, policy_path)

    @classmethod
    def init(
        cls,
        root: Path | str | None = None,
        *,
        db_url: str | None = None,
        policy: Path | None = None,
    ) -> Workspace:
        """Create a workspace (or complete one partly made); never overwrites a secret."""
        path = cls.locate(root)
        path.mkdir(parents=True, exist_ok=True)
        config_path = path / CONFIG_NAME
        if config_path.exists():
            raise WorkspaceError(f"a workspace already exists at {path}")
        url = db_url or os.environ.get(ENV_DB) or f"sqlite:///{(path / 'ledger.db').resolve()}"
        policy_text = policy.read_text("utf-8") if policy else default_policy_text()
        policy_path = path / "policy.toml"
        policy_path.write_text(policy_text, "utf-8")
        load_policy(policy_path)  # refuse to create a workspace around a broken policy
        secret_path = path / "secret"
        if not secret_path.exists() and ENV_SECRET not in os.environ:
            fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(SECRET_BYTES) + "\n")
        for sub in ("content", "quarantine", "snapshots"):
            (path / sub).mkdir(exist_ok=True)
        # The URL is written even when it came from CONSENTRY_DB, so that the workspace names
        # its database; the variable still wins at open time.
        config_path.write_text(
            f'# Consentry workspace\ndb = {_toml_string(url)}\npolicy = "policy.toml"\n', "utf-8"
        )
        ws = cls.open(path)
        ws.ledger().close()  # creates the database and runs migrations
        return ws
