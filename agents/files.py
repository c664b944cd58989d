"""Files a run writes and reads: atomic and durable writes, one writer per folder, and paths
read from files kept inside their folder.

A write is built beside its destination, flushed to disk (fsync), renamed over it, and the
folder's entry is flushed too (fsync of the directory): after a power loss a reader finds the
old version or the new one, never a torn or empty file. A failed write (a full disk) removes
its temporary file and leaves the previous version as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SAFE_ID = re.compile(r"[A-Za-z0-9_.-]+")


class UnsafePathError(ValueError):
    """A file names a path that would leave its folder, or an id that is not a plain name."""


class FolderLockedError(RuntimeError):
    """Another process is writing to the folder."""


# --- durable writes ---------------------------------------------------------------------------

def fsync_dir(path: Path | str) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk."""
    with contextlib.suppress(OSError):  # some filesystems cannot open or sync directories
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_dirs(path: Path | str) -> Path:
    """mkdir -p, flushing each new directory's entry in its parent; returns the path."""
    path = Path(path)
    missing, up = [], path
    while not up.exists():
        missing.append(up)
        up = up.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
            folder.mkdir()
        fsync_dir(folder.parent)
    return path


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: Path) -> Path:
    # the suffix stays last: imageio and matplotlib pick the format from it
    return path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path` for a writer (numpy, imageio, matplotlib) to
    fill; when the block ends without error it is made durable and renamed to `path`, and on
    any error it is removed (the previous `path` untouched)."""
    path = Path(path)
    make_dirs(path.parent)
    tmp = _temp_name(path)
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)


def atomic_write(path: Path | str, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to `path` atomically and durably."""
    payload = data.encode() if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    return Path(path)


def atomic_write_json(path: Path | str, data: Any) -> Path:
    """atomic_write of indented JSON."""
    return atomic_write(path, json.dumps(data, indent=1))


@contextlib.contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield a temporary directory beside `path` to fill; when the block ends without error
    its files and itself are made durable and it replaces `path` (an existing directory is
    moved aside first, then removed); on error it is removed and `path` is untouched."""
    path = Path(path)
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    tmp.mkdir()
    try:
        yield tmp
        for file in tmp.iterdir():
            if file.is_file():
                _fsync_file(file)
        fsync_dir(tmp)
        if path.exists() or path.is_symlink():  # rename cannot replace a non-empty directory
            old = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            fsync_dir(path.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    fsync_dir(path.parent)


def leftover_temps(folder: Path | str) -> list[Path]:
    """Temporary files and folders that interrupted writes left in `folder` (any depth)."""
    return [p for p in Path(folder).rglob(".*") if ".partial" in p.name or p.name.endswith(".old")]


def numbered(folder: Path | str, prefix: str) -> list[Path]:
    """`<prefix><N>` entries of a folder sorted by N as a number (step_999999999 before
    step_1000000000, which a sort by name gets wrong)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)")
    found = [(int(m.group(1)), p) for p in Path(folder).glob(f"{prefix}*")
             if (m := pattern.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


# --- paths read from files --------------------------------------------------------------------

def check_id(value: Any, where: str) -> str:
    """A player or run id that is safe as a folder name: [A-Za-z0-9_.-]+ without '..'."""
    if not isinstance(value, str) or not SAFE_ID.fullmatch(value) or ".." in value:
        raise UnsafePathError(f"{where}: {value!r} is not a valid id (letters, digits, '_', "
                              f"'.', '-', no '..')")
    return value


def inside(folder: Path | str, relative: Any, where: str) -> Path:
    """`folder / relative` resolved (links followed); an UnsafePathError naming `where` if
    it is absolute or leads outside `folder`."""
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise UnsafePathError(f"{where}: {relative!r} is not a path relative to {folder}")
    root = Path(folder).resolve()
    target = (root / relative).resolve()
    if target != root and not target.is_relative_to(root):
        raise UnsafePathError(f"{where}: {relative!r} leads outside {folder}")
    return target


# --- one writer per folder --------------------------------------------------------------------

class WriterLock:
    """Held by the one process that writes a run or league folder, for as long as it writes
    (an OS file lock on `<folder>/.lock`, released by the kernel if the process dies). A
    second writer fails at once, with one line naming the holder (`<folder>/.lock.json`).
    Readers (evaluation, the windows, a member loaded as an opponent) take no lock."""

    def __init__(self, folder: Path | str) -> None:
        from filelock import FileLock, Timeout

        self.folder = Path(folder)
        make_dirs(self.folder)
        self.lock = FileLock(str(self.folder / ".lock"), timeout=0, thread_local=False)
        try:
            self.lock.acquire()
        except Timeout:
            raise FolderLockedError(f"{self.folder} is being written by {self.holder()}: one "
                                    f"writer per folder (wait for it, or stop it)") from None
        atomic_write_json(self.folder / ".lock.json", {
            "pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]})

    def holder(self) -> str:
        """Who holds the lock, as its owner wrote it down."""
        try:
            info = json.loads((self.folder / ".lock.json").read_text())
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info["since"])))
            return f"pid {int(info['pid'])} on {info['host']} since {since} ({info['command']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another process"

    def release(self) -> None:
        """Let the next writer in (idempotent)."""
        if self.lock.is_locked:
            with contextlib.suppress(FileNotFoundError):
                (self.folder / ".lock.json").unlink()
            self.lock.release()

    def __enter__(self) -> WriterLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
