"""The privacy center's settings, from the ``[privacy]`` table of the workspace's config.toml.

[privacy]
frame_ancestors = ["https://app.example.org"]  # who may embed the pages; default: nobody
trust_forwarded_proto = true   # a TLS proxy in front: X-Forwarded-Proto decides Secure
session_minutes = 30
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from consentry.errors import WorkspaceError
from consentry.workspace import CONFIG_NAME, Workspace

DEFAULT_SESSION_MINUTES: Final = 30
_KEYS: Final = frozenset({"frame_ancestors", "trust_forwarded_proto", "session_minutes"})


@dataclass(frozen=True, slots=True)
class CenterConfig:
    frame_ancestors: tuple[str, ...] = ("'none'",)
    trust_forwarded_proto: bool = False
    session_minutes: int = DEFAULT_SESSION_MINUTES


def load_config(ws: Workspace) -> CenterConfig:
    path = ws.root / CONFIG_NAME
    table: Any = ws.config_section("privacy")
    if table is None:
        return CenterConfig()
    if not isinstance(table, dict):
        raise WorkspaceError(f"{path}: [privacy] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise WorkspaceError(f"{path}: [privacy] has unknown key(s) {', '.join(unknown)}")
    ancestors = table.get("frame_ancestors", ["'none'"])
    if not (
        isinstance(ancestors, list)
        and ancestors
        and all(isinstance(a, str) and a and not any(c in a for c in ' ;,"\r\n') for a in ancestors)
    ):
        raise WorkspaceError(
            f"{path}: privacy.frame_ancestors must be a list of CSP sources "
            '(e.g. ["https://app.example.org"] or ["\'none\'"])'
        )
    trust = table.get("trust_forwarded_proto", False)
    if not isinstance(trust, bool):
        raise WorkspaceError(f"{path}: privacy.trust_forwarded_proto must be true or false")
    minutes = table.get("session_minutes", DEFAULT_SESSION_MINUTES)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 24 * 60:
        raise WorkspaceError(f"{path}: privacy.session_minutes must be 1 to 1440")
    return CenterConfig(tuple(ancestors), trust, minutes)
