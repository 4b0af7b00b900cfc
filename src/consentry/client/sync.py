"""``sync``: bring a licensee's folder up to date with the platform, and prove the deletions.

DIR holds one folder per snapshot (``DIR/<snapshot id>/``, a snapshot as the platform built it,
loadable with ``datasets.load_dataset``) and ``DIR/.consentry-sync/``: the saved cursor
(``state.json``), the journal of removals (``journal.jsonl``), the platform's manifests byte for
byte (``platform/<id>.manifest.json``) and downloads in progress (``partial/<id>/``).

1. Each snapshot delivered and not yet in DIR is downloaded into ``partial/<id>/``, resuming
   every file where a killed run left it (``Range`` + ``If-Range``), each file checked against
   the manifest's SHA-256 (the others against the server's checksum), the whole against the
   manifest's Merkle root (each shard hashed by a thread while the next downloads);
   only then is the folder renamed into DIR (atomic: a reader never sees half a snapshot).
2. The events after the saved cursor are fetched a page at a time, up to ``BATCH`` of them; the
   records they name are journaled page by page (before, so a kill loses no line; a line is
   never written twice) and removed (``copy.apply_deletions``, once per snapshot per batch);
   the batch is acknowledged with one attestation per snapshot it touched; then the cursor is
   saved. A kill anywhere repeats at most the current batch, which changes nothing the second
   time.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from consentry.client import copy
from consentry.client.api import CHUNK, PAGE, LicenseeApi
from consentry.errors import ChecksumError, SyncError, UsageError
from consentry.outputs import plain_parts, write_file
from consentry.snapshot.manifest import MANIFEST_NAME, Manifest
from consentry.snapshot.roots import ShardRoots

STATE_DIR: Final = ".consentry-sync"
EXTRAS: Final = ("README.md", "croissant.json")
#: Events applied and acknowledged together (their Removals held in memory, ~100 bytes each).
BATCH: Final = 200_000


class Progress:
    """What a sync reports as it goes; the CLI draws Rich bars from it. Does nothing here."""

    def file(self, name: str, total: int) -> None: ...
    def advance(self, n: int) -> None: ...
    def done(self, name: str) -> None: ...
    def note(self, text: str) -> None: ...


@dataclass
class SyncResult:
    downloaded: list[str] = field(default_factory=list)
    events: int = 0
    removed: int = 0
    attested: list[str] = field(default_factory=list)
    cursor: str | None = None


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def _inside(folder: Path, relative: str, what: str) -> Path:
    """Where a name the server or its manifest gives goes: under ``folder`` and nowhere else
    (a hostile or broken server naming ``../x`` writes nothing outside DIR)."""
    parts = plain_parts(relative)
    if parts is None:
        raise SyncError(f"the server named {what} {relative!r}, which is not a plain relative path")
    return folder.joinpath(*parts)


class Sync:
    def __init__(self, api: LicenseeApi, folder: Path, progress: Progress | None = None) -> None:
        # Nothing in DIR is ever replaced or removed but what sync itself made (a snapshot
        # folder is renamed in only where none is), so any folder may be DIR.
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--dir {folder} is a file: name a folder for the snapshots")
        self.api = api
        self.folder = folder
        self.state_dir = folder / STATE_DIR
        self.progress = progress or Progress()

    def _snapshot_dir(self, snapshot_id: str) -> Path:
        """DIR's folder for a snapshot the server names: one plain name, never a path."""
        if "/" in snapshot_id:
            raise SyncError(f"the server named a snapshot {snapshot_id!r}: not a plain name")
        return _inside(self.folder, snapshot_id, "a snapshot")

    # ---- state --------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return copy.load_json(self.state_dir / "state.json")

    def _save_state(self, state: dict[str, Any]) -> None:
        data = (json.dumps(state, indent=2, sort_keys=True) + "\n").encode()
        write_file(self.state_dir / "state.json", lambda fh: fh.write(data))

    def run(self) -> SyncResult:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        result = SyncResult()
        for snapshot in self.api.snapshots():
            sid = str(snapshot["snapshot_id"])
            if not (self._snapshot_dir(sid) / MANIFEST_NAME).is_file():
                self.download(sid)
                result.downloaded.append(sid)
        self.apply_events(result)
        return result

    # ---- download -----------------------------------------------------------------------

    def download(self, snapshot_id: str) -> None:
        partial = self.state_dir / "partial" / snapshot_id
        partial.mkdir(parents=True, exist_ok=True)
        # Each file is made durable (fsync) by a thread while the next downloads; all of them
        # are before the folder is published.
        with ThreadPoolExecutor(1, thread_name_prefix="fsync") as durable:
            written = [durable.submit(_fsync, self._fetch(snapshot_id, MANIFEST_NAME, partial))]
            manifest_bytes = (partial / MANIFEST_NAME).read_bytes()
            try:
                manifest = Manifest(**json.loads(manifest_bytes))
            except (ValueError, TypeError) as exc:
                raise SyncError(f"the manifest of {snapshot_id} is not one: {exc}") from None
            if manifest.snapshot_id != snapshot_id:
                raise ChecksumError(
                    f"the manifest served for {snapshot_id} names {manifest.snapshot_id}"
                )
            # Each data shard is hashed into the Merkle tree by a thread while the next
            # downloads.
            with ShardRoots() as tree:
                for shard in manifest.shards:
                    path = self._fetch(
                        snapshot_id, str(shard["path"]), partial, str(shard["sha256"])
                    )
                    written.append(durable.submit(_fsync, path))
                    tree.add(path)
                for shard in manifest.interactions:
                    path = self._fetch(
                        snapshot_id, str(shard["path"]), partial, str(shard["sha256"])
                    )
                    written.append(durable.submit(_fsync, path))
                for name in EXTRAS:
                    written.append(durable.submit(_fsync, self._fetch(snapshot_id, name, partial)))
                root, leaves = tree.root()
            for done in written:
                done.result()
        if (root, leaves) != (manifest.merkle["root"], manifest.merkle["leaves"]):
            raise ChecksumError(
                f"snapshot {snapshot_id}: the Merkle root of the records downloaded ({root}, "
                f"{leaves} leaves) is not the manifest's ({manifest.merkle['root']}); nothing "
                "was published"
            )
        platform = self.state_dir / "platform"
        platform.mkdir(exist_ok=True)
        write_file(platform / f"{snapshot_id}.manifest.json", lambda fh: fh.write(manifest_bytes))
        for f in partial.rglob("*.etag"):
            f.unlink()
        # Dated after its shards (bytes unchanged): the copy's first refresh trusts the shards
        # just verified on a stat instead of hashing them again (copy.refresh).
        os.utime(partial / MANIFEST_NAME)
        target = self.folder / snapshot_id
        try:
            os.replace(partial, target)
        except OSError as exc:  # a folder of that name, not a snapshot, is in DIR: left alone
            raise SyncError(
                f"{target} exists and is not a snapshot sync made (no {MANIFEST_NAME}): move it "
                f"away and run sync again; the verified download waits in {partial}"
            ) from exc
        self.progress.note(f"{snapshot_id}: {leaves:,} records, verified, published")

    def _fetch(self, snapshot_id: str, name: str, partial: Path, sha256: str | None = None) -> Path:
        """``name`` whole in ``partial`` (resumed), checked against ``sha256`` (else the
        server's checksum); where it is (written, not yet made durable)."""
        path = _inside(partial, name, f"a file of snapshot {snapshot_id}")
        path.parent.mkdir(parents=True, exist_ok=True)
        etag_file = path.with_name(path.name + ".etag")
        etag = etag_file.read_text() if etag_file.exists() else None
        start = path.stat().st_size if path.exists() and etag else 0
        self.progress.file(f"{snapshot_id}/{name}", 0)

        def report(n: int, total: int | None) -> None:
            if total is not None:
                self.progress.file(f"{snapshot_id}/{name}", total)
            self.progress.advance(n)

        with path.open("ab" if start else "wb") as fh:
            out = _HashingFile(fh, path if start else None)
            if sha256 is not None and not etag_file.exists():
                etag_file.write_text(f'"{sha256}"')
            served, _ = self.api.download(
                snapshot_id, name, out, start=start, etag=etag or (sha256 and f'"{sha256}"'),
                progress=report,
            )  # fmt: skip
            if served and not etag_file.exists():
                etag_file.write_text(f'"{served}"')
        self.progress.done(f"{snapshot_id}/{name}")
        want = sha256 or served
        got = out.digest.hexdigest()
        if want is not None and got != want:
            path.unlink()
            etag_file.unlink(missing_ok=True)
            raise ChecksumError(
                f"{name} of snapshot {snapshot_id}: SHA-256 {got}, the manifest says {want}; "
                "the partial file was removed, run sync again"
            )
        return path

    # ---- deletions ----------------------------------------------------------------------

    def _journaled(self) -> set[tuple[str, str, str, str]]:
        seen: set[tuple[str, str, str, str]] = set()
        path = self.state_dir / "journal.jsonl"
        if path.exists():
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue  # a line cut by a kill: written again below
                    seen.add((e["snapshot_id"], e["table"], e["record_id"], e.get("account", "")))
        return seen

    def _journal(self, events: list[dict[str, Any]], seen: set[tuple[str, str, str, str]]) -> None:
        """Append the removals not yet in the journal (``seen``, updated) to it."""
        at = datetime.now(UTC).isoformat()
        lines = []
        for e in events:
            key = (e["snapshot_id"], e["table"], e["record_id"], e.get("account", ""))
            if key in seen:
                continue
            seen.add(key)
            row = {
                "removed_at": at,
                "snapshot_id": e["snapshot_id"],
                "table": e["table"],
                "record_id": e["record_id"],
                "reason": e["reason"],
                "x_event": e.get("x_event"),
                "event_id": e["event_id"],
                "event_at": e["at"],
            }
            if e.get("account"):
                row["account"] = e["account"]
            lines.append(json.dumps(row, sort_keys=True) + "\n")
        if not lines:
            return
        path = self.state_dir / "journal.jsonl"
        with path.open("a", encoding="utf-8") as fh:
            # A line cut short by a kill would glue onto the next: start on a fresh line.
            if fh.tell() and not _ends_with_newline(path):
                fh.write("\n")
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())

    def apply_events(self, result: SyncResult, page: int = PAGE, batch: int = BATCH) -> None:
        """Apply and acknowledge the events after the saved cursor, ``batch`` at most at a
        time: pages are journaled as they come, but each snapshot is rewritten, re-rooted and
        attested once per batch, not once per page (a copy of 10M records costs seconds to
        re-root; 100,000 events are ten pages)."""
        state = self._state()
        # A new copy starts from the first event: another copy of the same recipient may have
        # acknowledged events this one still has to apply.
        cursor: str | None = state.get("cursor", "0")
        journaled = self._journaled()  # read once: each page adds to it
        while True:
            touched: dict[str, list[copy.Removal]] = {}
            count, through, next_cursor = 0, -1, cursor
            while count < batch:
                events, after = self.api.events(next_cursor, min(page, batch - count))
                if not events:
                    break
                self._journal(events, journaled)
                for e in events:
                    touched.setdefault(e["snapshot_id"], []).append(
                        copy.Removal(
                            e["table"], e["record_id"], e.get("account"), e["reason"],
                            e["event_id"],
                        )
                    )  # fmt: skip
                count += len(events)
                through = max(through, *(int(e["event_id"]) for e in events))
                next_cursor = after
            if not count:
                break
            attestations = []
            for sid, removals in sorted(touched.items()):
                here = self._snapshot_dir(sid)
                if not (here / MANIFEST_NAME).is_file():
                    continue  # not held here: nothing to remove, nothing to attest
                result.removed += copy.apply_deletions(here, removals)
                attestations.append(copy.attestation(here, sid))
            self.api.ack(through, attestations)
            result.events += count
            result.attested += [a["snapshot_id"] for a in attestations]
            cursor = next_cursor
            self._save_state({**state, "cursor": cursor})
            self.progress.note(f"{count:,} event(s) applied and acknowledged through {through}")
        result.cursor = cursor


class _HashingFile:
    """A download's file, hashed as it is written: the bytes are checked without being read
    back. A resumed file's first part (``resumed``, from a killed run) is hashed once first."""

    def __init__(self, fh: BinaryIO, resumed: Path | None) -> None:
        self.fh = fh
        self.digest = hashlib.sha256()
        if resumed is not None:
            with resumed.open("rb") as old:
                while chunk := old.read(CHUNK):
                    self.digest.update(chunk)

    def write(self, chunk: bytes, /) -> int:
        self.digest.update(chunk)
        return self.fh.write(chunk)

    def restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()
        self.digest = hashlib.sha256()


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def sync(server: str, key: str, folder: Path, progress: Progress | None = None) -> SyncResult:
    """Download what is new, apply and attest the deletions since the saved cursor."""
    told = progress or Progress()

    def waiting(seconds: float, why: str) -> None:
        told.note(f"the server asks to wait {seconds:g} s ({why}); waiting")

    with LicenseeApi(server, key, on_wait=waiting) as api:
        return Sync(api, folder, told).run()
