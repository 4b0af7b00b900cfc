"""Where a build publishes, as ``pyarrow.fs`` sees it: a local path, or a URI
(``file:///…``, ``s3://…``, ``gs://…``, ``hdfs://…``: whatever ``FileSystem.from_uri`` takes), or a
filesystem object and a path in it.

A location that is local underneath (a plain path, ``file://``, a ``SubTreeFileSystem`` over the
local filesystem) is built in place, as ever: the steps map their files and rename the work
folder into place. Any other is built in a local staging folder (the steps need a POSIX folder
every worker shares) and then copied through the filesystem object to a sibling
``.NAME.partial`` and moved into place. As locally, a folder there that does not hold a
Consentry snapshot's manifest is never replaced, and one that does only with ``--force``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow.fs as pafs

from consentry.errors import UsageError
from consentry.snapshot.manifest import FORMAT, MANIFEST_NAME, Manifest

if TYPE_CHECKING:
    from consentry.snapshot.build import (
        Builder,
        BuildResult,
        BuildSpec,
        IncludedSink,
        PublishHook,
    )

#: Written first into a copy's ``.NAME.partial``: a leftover holding it is ours to remove.
COPY_MARK: Final = ".consentry-copy"


@dataclass(frozen=True, slots=True)
class Location:
    """A folder in ``fs`` at ``path``; ``local`` is the same folder as a local path, when
    there is one."""

    fs: pafs.FileSystem
    path: str
    local: Path | None

    @classmethod
    def parse(cls, text: str | Path) -> Location:
        """A plain path or a URI."""
        if isinstance(text, Path) or "://" not in text:
            path = Path(text)  # as given: messages and records name it as the user did
            return cls(pafs.LocalFileSystem(), str(path.absolute()), path)
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except (ValueError, OSError) as e:  # ArrowInvalid is a ValueError
            raise UsageError(f"not a storage location pyarrow.fs can open: {text} ({e})") from e
        return cls.of(fs, path)

    @classmethod
    def of(cls, fs: pafs.FileSystem, path: str) -> Location:
        """``path`` in ``fs``, local underneath when ``fs`` is the local filesystem or a
        subtree of it."""
        return cls(fs, path.rstrip("/"), _local_path(fs, path))

    def __str__(self) -> str:
        if self.local is not None:
            return str(self.local)
        return f"{self.fs.type_name}://{self.path}"


def _local_path(fs: pafs.FileSystem, path: str) -> Path | None:
    if isinstance(fs, pafs.LocalFileSystem):
        return Path(path)
    if isinstance(fs, pafs.SubTreeFileSystem):
        inner = _local_path(fs.base_fs, fs.base_path)
        return None if inner is None else inner / path.lstrip("/")
    return None


def _holds_our_manifest(fs: pafs.FileSystem, folder: str) -> bool:
    """``writer.is_snapshot`` read through ``fs``: the same rule for what --force replaces."""
    try:
        with fs.open_input_stream(f"{folder}/{MANIFEST_NAME}") as f:
            return Manifest.from_json(f.read().decode("utf-8")).format == FORMAT
    except (OSError, ValueError, TypeError):
        return False


def check_remote(target: Location, *, force: bool) -> None:
    """Refuse a target the build may not publish to, before any work: a file, a folder that
    holds anything but a Consentry snapshot, or one that does without ``force``."""
    info = target.fs.get_file_info(target.path)
    if info.type == pafs.FileType.NotFound:
        return
    if info.type != pafs.FileType.Directory:
        raise UsageError(f"--out {target} exists and is not a folder: it is left as it is")
    empty = not target.fs.get_file_info(pafs.FileSelector(target.path))
    if empty:
        return
    if not _holds_our_manifest(target.fs, target.path):
        raise UsageError(
            f"--out {target} holds files but not a Consentry snapshot (no manifest.json of one):"
            " it is left as it is"
        )
    if not force:
        raise UsageError(f"--out {target} already holds a snapshot: --force replaces it")


def publish_remote(staged: Path, target: Location, *, force: bool, keep: bool = False) -> None:
    """Copy the published snapshot ``staged`` through ``target.fs``: into ``.NAME.partial``
    beside the target, then moved into place (atomic where the filesystem renames, as local
    and HDFS do; an object store copies). ``staged`` is removed once it is there, unless
    ``keep`` (a copy the workspace has recorded, as ``snapshot build`` does)."""
    check_remote(target, force=force)  # again: it may have appeared while the build ran
    parent, _, name = target.path.rpartition("/")
    partial = f"{parent}/.{name}.partial" if parent else f".{name}.partial"
    fs = target.fs
    if fs.get_file_info(partial).type != pafs.FileType.NotFound:
        if fs.get_file_info(f"{partial}/{COPY_MARK}").type != pafs.FileType.File:
            raise UsageError(
                f"{partial} exists and is not a copy of a Consentry build: it is left as it is"
            )
        fs.delete_dir(partial)  # left by a copy of ours that died
    fs.create_dir(partial, recursive=True)
    with fs.open_output_stream(f"{partial}/{COPY_MARK}") as mark:
        mark.write(b"consentry snapshot copy\n")
    pafs.copy_files(
        str(staged), partial, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs
    )
    if fs.get_file_info(target.path).type == pafs.FileType.Directory:
        fs.delete_dir(target.path)  # checked above: a snapshot of ours, and --force
    fs.delete_file(f"{partial}/{COPY_MARK}")
    fs.move(partial, target.path)
    if not keep:
        shutil.rmtree(staged)


def staging_for(target: Location, root: Path) -> Path:
    """The local folder to build ``target`` in, under ``root`` (the workspace's snapshots/):
    the same for the same target, so that a build killed before the copy resumes there."""
    digest = hashlib.sha256(f"{target.fs.type_name}\x00{target.path}".encode()).hexdigest()
    return root / ".staging" / f"{target.path.rpartition('/')[2] or 'snapshot'}-{digest[:16]}"


def build_at(
    builder: Builder,
    spec: BuildSpec,
    target: Location,
    *,
    staging: Path,
    sink: IncludedSink | None = None,
    hook: PublishHook | None = None,
    run: Callable[[BuildSpec], BuildResult] | None = None,
    keep: bool = False,
) -> BuildResult:
    """Build ``spec`` (its ``out`` ignored) and publish it at ``target``; ``staging`` is the
    local folder a target with no local path is built in first (see ``staging_for``), kept
    there if ``keep``. ``run`` builds a spec instead of ``builder.build`` (the CLI records the
    delivery of what it builds)."""
    build = run or (lambda s: builder.build(s, sink, hook))
    if target.local is not None:
        return build(dataclasses.replace(spec, out=target.local))
    check_remote(target, force=spec.force)  # before hours of work, not after
    result = build(dataclasses.replace(spec, out=staging, force=True))
    publish_remote(staging, target, force=spec.force, keep=keep)
    return result
