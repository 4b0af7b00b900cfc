"""The ``[signals]`` table: defaults, and every malformed value refused with its key."""

from __future__ import annotations

import pytest

from consentry.errors import WorkspaceError
from consentry.signals import parse_signals


def test_defaults() -> None:
    config = parse_signals(None, "config.toml")
    assert [p.text for p in config.pages] == ["/{handle}", "/{handle}/status/{id}"]
    assert config.search == "unstated" and config.key == "handle"
    profile, post = config.pages
    assert profile.regex().fullmatch("/alice")["who"] == "alice"  # type: ignore[index]
    assert profile.regex().fullmatch("/alice/status/1") is None
    assert post.regex().fullmatch("/alice/status/1")["who"] == "alice"  # type: ignore[index]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"profile": "user/{handle}"}, "signals.profile must be a URL path starting with '/'"),
        ({"profile": 3}, "signals.profile must be a URL path"),
        ({"post": "/{handle}/{slug}"}, "signals.post: unknown placeholder {slug}"),
        ({"post": "/p/{id}"}, "signals.post must name the account once"),
        ({"post": "/{handle}/{account}"}, "signals.post must name the account once"),
        ({"post": "/{id}/{handle}"}, "signals.post: {id} may only follow"),
        ({"profile": "/u*/{handle}"}, "signals.profile: '/u*/{handle}' holds a character"),
        ({"profile": "/@{handle}x"}, "signals.profile: the account's placeholder must end"),
        ({"profile": "/u/{account}"}, "must name the account the same way"),
        ({"search": "yes"}, "signals.search must be one of unstated, y, n"),
        ({"robots": "x"}, "signals has an unknown key 'robots'"),
        ("x", "signals must be a table"),
    ],
)
def test_refused(raw: object, message: str) -> None:
    with pytest.raises(WorkspaceError) as caught:
        parse_signals(raw, "ws/config.toml")
    assert str(caught.value).startswith("ws/config.toml: ")
    assert message in str(caught.value)
