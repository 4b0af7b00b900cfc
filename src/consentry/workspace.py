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

``config.toml`` names a SQLite ledger inside the folder relative to it, so that a copied
workspace uses its own copy. Everything in a workspace is private to its owner (folders 0700,
files 0600): it holds the ledger, personal data and the delivery maps, so opening one sets the
process's umask to 077 for the files Consentry writes from then on.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from consentry.db_urls import libpq_url
from consentry.errors import WorkspaceError
from consentry.ledger import LedgerStore, open_ledger, sqlite_path
from consentry.policy import Policy, default_policy_text, load_policy

DEFAULT_ROOT: Final = Path(".consentry")
ENV_ROOT: Final = "CONSENTRY_WORKSPACE"
ENV_DB: Final = "CONSENTRY_DB"
ENV_SECRET: Final = "CONSENTRY_SECRET"
CONFIG_NAME: Final = "config.toml"
SECRET_BYTES: Final = 32
SQLITE: Final = "sqlite:///"
LEDGER_NAME: Final = "ledger.db"
#: New files and folders: the owner's only.
PRIVATE_UMASK: Final = 0o077
_MAKE_SECRET: Final = (
    'make one with `python -c "import secrets; print(secrets.token_hex(32))"` '
    "(or let `consentry init` write one)"
)


def _toml_string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def is_workspace(folder: Path) -> bool:
    """Whether ``folder`` is a Consentry workspace: its ``config.toml`` names a database, beside
    the workspace's policy or secret (another tool's config.toml alone is not one)."""
    if not any((folder / name).is_file() for name in ("policy.toml", "secret")):
        return False
    try:
        config = tomllib.loads((folder / CONFIG_NAME).read_text("utf-8"))
    except (OSError, ValueError):  # absent, unreadable, not UTF-8 or not TOML
        return False
    return isinstance(config.get("db"), str)


def make_private() -> None:
    """Files and folders the process creates from now on are its owner's only."""
    os.umask(PRIVATE_UMASK)


def _stored_url(url: str, root: Path) -> str:
    """The URL as ``config.toml`` keeps it: a SQLite file inside the workspace relative to it
    (a copy of the folder then uses its own), any other absolute."""
    if not url.startswith(SQLITE):
        return url
    path = sqlite_path(url).resolve()
    try:
        return f"{SQLITE}{path.relative_to(root.resolve()).as_posix()}"
    except ValueError:
        return f"{SQLITE}{path}"


def _config_url(url: str, root: Path, config_path: Path) -> str:
    """The URL ``config.toml`` names, made absolute. An absolute SQLite path outside the
    folder while the folder holds its own ledger is a copied workspace: writing through it
    would change the original's ledger."""
    if not url.startswith(SQLITE):
        return libpq_url(url)
    path = sqlite_path(url)
    own = root.resolve()
    if not path.is_absolute():
        return f"{SQLITE}{own / path}"
    if own not in path.resolve().parents and (own / LEDGER_NAME).exists():
        raise WorkspaceError(
            f"{config_path}: the ledger is {path}, outside this workspace, yet the workspace "
            f"holds its own {LEDGER_NAME}: it looks copied from another workspace, whose "
            f'ledger it would change. To use this copy\'s ledger set db = "{SQLITE}{LEDGER_NAME}"'
            f" in {config_path}; to share {path} on purpose, remove {own / LEDGER_NAME}"
        )
    return url


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise WorkspaceError(f"{path}: not valid TOML: {exc}") from None


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path
    db_url: str
    policy_path: Path

    def config_section(self, name: str) -> object:
        """``config.toml``'s ``[name]`` as written (None when absent), for the parts of
        Consentry configured there besides the ledger and the policy (``privacy``,
        ``signals``): each checks its own keys."""
        path = self.root / CONFIG_NAME
        try:
            return _read_config(path).get(name)
        except FileNotFoundError:
            return None

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
        config = _read_config(config_path)
        env_url = os.environ.get(ENV_DB)
        db_url = env_url or config.get("db")
        if not isinstance(db_url, str) or not db_url:
            raise WorkspaceError(f"{config_path}: key 'db' (the database URL) is missing")
        db_url = libpq_url(env_url) if env_url else _config_url(db_url, path, config_path)
        policy = config.get("policy", "policy.toml")
        if not isinstance(policy, str):
            raise WorkspaceError(f"{config_path}: key 'policy' must be a string path")
        policy_path = Path(policy) if Path(policy).is_absolute() else path / policy
        make_private()
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
        path.parent.mkdir(parents=True, exist_ok=True)  # folders around it keep the usual modes
        make_private()
        path.mkdir(exist_ok=True)
        config_path = path / CONFIG_NAME
        if config_path.exists():
            raise WorkspaceError(f"a workspace already exists at {path}")
        url = _stored_url(db_url or os.environ.get(ENV_DB) or f"{SQLITE}{path / LEDGER_NAME}", path)
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
