"""The workspace's [privacy] table: frame-ancestors reach the CSP; a bad value is a clear error
naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.api.conftest import start_service

from consentry.errors import WorkspaceError
from consentry.web.config import CenterConfig, load_config
from consentry.web.render import csp
from consentry.workspace import Workspace


def _ws(tmp_path: Path, table: str) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    config = ws.root / "config.toml"
    config.write_text(config.read_text("utf-8") + table, "utf-8")
    return ws


def test_default_is_no_framing(tmp_path: Path) -> None:
    config = load_config(_ws(tmp_path, ""))
    assert config == CenterConfig()
    assert "frame-ancestors 'none'" in csp(config)


def test_frame_ancestors_from_the_workspace(tmp_path: Path) -> None:
    ws = _ws(tmp_path, '\n[privacy]\nframe_ancestors = ["https://app.example.org"]\n')
    assert csp(load_config(ws)).endswith("frame-ancestors https://app.example.org")


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ('frame_ancestors = ["https://a.example; script-src *"]', "privacy.frame_ancestors"),
        ("frame_ancestors = []", "privacy.frame_ancestors"),
        ('trust_forwarded_proto = "yes"', "privacy.trust_forwarded_proto"),
        ("session_minutes = 0", "privacy.session_minutes"),
        ("colour = 1", "colour"),
    ],
)
def test_a_bad_value_names_the_file_and_key(tmp_path: Path, table: str, key: str) -> None:
    ws = _ws(tmp_path, f"\n[privacy]\n{table}\n")
    with pytest.raises(WorkspaceError, match=r"config\.toml") as caught:
        load_config(ws)
    assert key in str(caught.value)


def test_the_served_pages_can_be_embedded_where_configured(tmp_path: Path) -> None:
    ws = _ws(tmp_path, '\n[privacy]\nframe_ancestors = ["https://app.example.org"]\n')
    svc, stop = start_service(ws, "sqlite")
    try:
        for path in ("/privacy/signin", "/privacy/static/privacy.css"):
            csp_header = svc.client.get(path).headers["content-security-policy"]
            assert "frame-ancestors https://app.example.org" in csp_header, path
    finally:
        stop()
