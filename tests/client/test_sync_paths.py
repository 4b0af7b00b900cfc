"""What a server names never leads a sync outside DIR: a snapshot id is one plain name, a file
of a snapshot a plain relative path (a broken or hostile server cannot point sync at, say, the
platform's own snapshots beside DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest

from consentry.client.api import LicenseeApi
from consentry.client.sync import Sync
from consentry.errors import SyncError


@pytest.mark.parametrize("sid", ["../theirs", "a/b", "..", ".", ""])
def test_a_snapshot_id_that_is_a_path_is_refused(tmp_path: Path, sid: str) -> None:
    with LicenseeApi("http://127.0.0.1:9", "k") as api:
        sync = Sync(api, tmp_path / "dir")
        with pytest.raises(SyncError):
            sync._snapshot_dir(sid)


def test_a_plain_snapshot_id_is_a_folder_of_dir(tmp_path: Path) -> None:
    with LicenseeApi("http://127.0.0.1:9", "k") as api:
        assert Sync(api, tmp_path)._snapshot_dir("snap_0123") == tmp_path / "snap_0123"
