"""May Consentry write, or replace, this output path? The one home of the answer.

A path a user names is refused whenever writing there could destroy what Consentry did not
create: the filesystem root, the home folder, the current folder or one of its parents, a
workspace, a parent of the workspace in use, or anything inside a workspace (except, for a
snapshot, the workspace's own ``snapshots/``). A folder is replaced (``--force``) only when it
is one Consentry made for that purpose, which the caller's ``ours`` test recognises; a file
output never replaces a folder. Every refusal is a ``UsageError`` naming the path and why.

A file output replaces an existing file only when Consentry can prove it wrote that file and no
one changed it since: each file it writes is remembered (resolved path, size, SHA-256) in
``written.jsonl`` under ``$CONSENTRY_STATE_DIR`` (default ``$XDG_STATE_HOME/consentry``, else
``~/.local/state/consentry``), so that ``signals robots --out robots.txt`` can run every day
while a ``--out`` that names someone's document, a link or a device is refused. An empty file
(``mktemp``'s) holds nothing to lose and may be written.

Commands that write a file (``scrub OUT``, ``export --out``, and a future ``signals`` output)
call ``check_output_file``; commands that write a folder call ``check_output_folder`` and
publish with ``replace_folder``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from consentry.errors import UsageError

T = TypeVar("T")


def is_workspace(folder: Path) -> bool:
    # Imported here: the licensee's client (``consentry.client``) writes through this module
    # and must not load the workspace's and the ledger's code with it.
    from consentry.workspace import is_workspace as check

    return check(folder)


def plain_parts(relative: str) -> list[str] | None:
    """The names of a ``/``-separated relative path when each is a plain name (not empty, not
    ``.`` or ``..``), else None: what a manifest or a request names then only ever points
    inside the folder it is taken under."""
    parts = relative.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    return parts


def _forms(path: Path) -> Iterator[Path]:
    """The path as written (``..`` folded) and as resolved (symbolic links followed)."""
    yield Path(os.path.abspath(path))  # noqa: PTH100 (resolve would follow links)
    yield path.resolve()


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except RuntimeError:  # no HOME and no password entry: nothing to protect by that name
        return None


def _protected(candidate: Path, workspace: Path | None) -> str | None:
    """Why ``candidate`` (absolute) must never be written or replaced, or None."""
    if candidate == candidate.parent:
        return "the filesystem root"
    if candidate == _home():
        return "your home folder"
    cwd = Path.cwd().resolve()
    if candidate == cwd:
        return "the current folder"
    if candidate in cwd.parents:
        return "a parent of the current folder"
    if workspace is not None:
        ws = workspace.resolve()
        if candidate == ws:
            return "the workspace"
        if candidate in ws.parents:
            return f"a parent of the workspace {ws}"
    if is_workspace(candidate):
        return "a workspace"
    return None


def _enclosing_workspace(candidate: Path) -> Path | None:
    return next((p for p in candidate.parents if is_workspace(p)), None)


def refuse_protected(
    path: Path, *, role: str, workspace: Path | None, in_workspace: str | None = None
) -> None:
    """Refuse ``path`` when it is a place no output may take (see the module's docstring).

    ``in_workspace`` names the one folder of a workspace under which this output may live
    (``snapshots`` for snapshots); anywhere else inside a workspace is refused.
    """
    for candidate in _forms(path):
        why = _protected(candidate, workspace)
        if why is not None:
            raise UsageError(f"{role} {path} is {why}: Consentry never writes over it")
        ws = _enclosing_workspace(candidate)
        if ws is None:
            continue
        allowed = ws / in_workspace if in_workspace else None
        if allowed is None or allowed not in candidate.parents:
            where = f" (only under {allowed})" if allowed else ""
            raise UsageError(
                f"{role} {path} is inside the workspace {ws}: outputs go elsewhere{where}"
            )


STATE_ENV = "CONSENTRY_STATE_DIR"
_WRITTEN = "written.jsonl"


def _state_dir() -> Path | None:
    if os.environ.get(STATE_ENV):
        return Path(os.environ[STATE_ENV])
    if os.environ.get("XDG_STATE_HOME"):
        return Path(os.environ["XDG_STATE_HOME"]) / "consentry"
    home = _home()
    return None if home is None else home / ".local" / "state" / "consentry"


def _fingerprint(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def remember_written(path: Path) -> None:
    """Record that Consentry wrote the file ``path`` as it is now (see the module docstring).
    Where nothing can be recorded (a read-only home), the file is only never replaced."""
    folder = _state_dir()
    if folder is None:
        return
    size, sha256 = _fingerprint(path)
    line = json.dumps({"path": str(path.resolve()), "size": size, "sha256": sha256}) + "\n"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (folder / _WRITTEN).open("a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # whole lines, when two commands finish at once
            fh.write(line)
    except OSError:
        return


def written_by_consentry(path: Path) -> bool:
    """Whether the file ``path`` is, byte for byte, the last one Consentry wrote there."""
    folder = _state_dir()
    if folder is None:
        return False
    wanted = str(path.resolve())
    last: dict[str, object] | None = None
    try:
        with (folder / _WRITTEN).open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut by a crash
                if isinstance(entry, dict) and entry.get("path") == wanted:
                    last = entry
    except OSError:
        return False
    # The size first: a file grown or cut since is told without reading it.
    if last is None or last.get("size") != path.stat().st_size:
        return False
    return _fingerprint(path)[1] == last.get("sha256")


def check_output_file(path: Path, *, role: str, workspace: Path | None = None) -> None:
    """A file output: never a folder, never inside a workspace, in a folder that exists, and
    never over a file Consentry did not write (see the module docstring)."""
    refuse_protected(path, role=role, workspace=workspace)
    if path.is_symlink():
        raise UsageError(f"{role} {path} is a symbolic link: name the file itself")
    if path.is_dir():
        raise UsageError(f"{role} {path} is a folder: give the name of a file to write")
    if not path.parent.is_dir():
        raise UsageError(f"{role} {path}: the folder {path.parent} does not exist")
    if not path.exists():
        return
    if not path.is_file():
        raise UsageError(f"{role} {path} is not a regular file: Consentry never writes over it")
    if path.stat().st_size > 0 and not written_by_consentry(path):
        raise UsageError(
            f"{role} {path} exists and is not a file Consentry wrote (or it changed since): "
            "Consentry replaces only what it made; choose another name, or move it away yourself"
        )


def check_output_folder(
    path: Path,
    *,
    role: str,
    workspace: Path | None,
    ours: Callable[[Path], bool],
    what: str,
    force: bool | None,
    in_workspace: str | None = None,
) -> None:
    """A folder output, which may replace (or, with ``force=None``, write into) only an empty
    folder or one that ``ours`` recognises as ``what``.

    ``force`` False refuses any existing folder and True allows replacing one of ours; None is
    for commands that rewrite their own files in place and have no ``--force``.
    """
    refuse_protected(path, role=role, workspace=workspace, in_workspace=in_workspace)
    if path.is_symlink():
        raise UsageError(f"{role} {path} is a symbolic link: name the folder itself")
    if not path.exists():
        above = next(p for p in Path(os.path.abspath(path)).parents if p.exists())  # noqa: PTH100
        if not above.is_dir():
            raise UsageError(f"{role} {path}: {above} is a file, so no folder can be made there")
        return
    if not path.is_dir():
        raise UsageError(f"{role} {path} is a file, not {what}: choose another path")
    if not ours(path) and any(path.iterdir()):
        raise UsageError(
            f"{role} {path} exists and is not {what}: Consentry replaces only what it made; "
            "choose another folder"
        )
    if force is False:
        raise UsageError(f"{role} {path} already exists (use --force to replace it)")


def check_leftover(path: Path, *, ours: Callable[[Path], bool], what: str) -> bool:
    """Whether a work folder is there to reuse or clear; refuse one Consentry did not leave."""
    if not path.exists() and not path.is_symlink():
        return False
    if path.is_symlink() or not path.is_dir() or not ours(path):
        raise UsageError(
            f"{path} is in the way and is not {what}: Consentry will not touch it; move it "
            "away, or choose another output"
        )
    return True


def replace_folder(new: Path, out: Path) -> None:
    """Put the folder ``new`` in place of the existing folder ``out``, then delete only the
    folder that was moved aside (under a fresh name, so nothing else is ever deleted)."""
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    os.replace(out, aside)  # a folder renamed over an empty folder takes its place
    try:
        os.replace(new, out)
    except OSError:
        os.replace(aside, out)
        raise
    shutil.rmtree(aside)


def write_file(
    path: Path, write: Callable[[BinaryIO], T], *, mode: int | None = None, remember: bool = True
) -> T:
    """Write ``path`` through ``write`` under a fresh name beside it, then rename it into place:
    a reader never sees half a file, a crash leaves no half file in its place, and nothing but
    that temporary name is ever removed. ``mode`` widens the private default (0600), e.g. for a
    file the platform's web server publishes. Call ``check_output_file`` first. ``remember``:
    record the file as Consentry's (``remember_written``); a workspace's own files need not."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            result = write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            Path(tmp).chmod(mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if remember:
        remember_written(path)
    return result
