"""agents/files.py: durable atomic writes, one writer per folder, paths that stay inside."""

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import torch

from ludus.agents.checkpoint import load_weights, save_checkpoint
from ludus.agents.files import (
    FolderLockedError,
    UnsafePathError,
    WriterLock,
    atomic_write,
    check_id,
    inside,
    leftover_temps,
    numbered,
)


def synced_paths(monkeypatch):
    """Record the path of every file or directory fsync'd, in order."""
    seen = []
    real = os.fsync

    def fsync(fd):
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def test_a_write_is_flushed_then_renamed_then_its_folder_flushed(tmp_path, monkeypatch):
    seen = synced_paths(monkeypatch)
    target = tmp_path / "sub" / "league.json"
    atomic_write(target, "{}")
    assert target.read_text() == "{}"
    temp = [p for p in seen if ".partial" in p]
    assert temp and seen.index(temp[0]) < seen.index(str(tmp_path / "sub"))  # file, then folder
    assert str(tmp_path) in seen  # the new folder's entry in its parent


def test_a_checkpoint_flushes_every_file_and_both_folders(tmp_path, monkeypatch):
    seen = synced_paths(monkeypatch)
    save_checkpoint(tmp_path / "ck", torch.nn.Linear(2, 2), {"algo": "x"}, {"a": torch.ones(1)})
    names = {Path(p).name for p in seen}
    assert {"model.safetensors", "meta.json", "train_state.safetensors",
            "train_state.json"} <= names
    assert str(tmp_path) in seen  # the rename is durable


def test_a_full_disk_leaves_the_previous_version_and_no_temp_file(tmp_path):
    target = tmp_path / "summary.json"
    atomic_write(target, "old")
    with mock.patch("os.write", side_effect=OSError(errno.ENOSPC, "No space left on device")), \
            pytest.raises(OSError, match="No space"):
        atomic_write(target, "new" * 1000)
    assert target.read_text() == "old" and not leftover_temps(tmp_path)


def test_a_failed_checkpoint_leaves_the_previous_one(tmp_path):
    net = torch.nn.Linear(2, 2)
    save_checkpoint(tmp_path / "ck", net, {"algo": "x"})
    before = {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()}
    with mock.patch("ludus.agents.checkpoint.save_file",
                    side_effect=OSError(errno.ENOSPC, "No space left on device")), \
            pytest.raises(OSError):
        save_checkpoint(tmp_path / "ck", torch.nn.Linear(2, 2), {"algo": "y"})
    assert {p.name: p.read_bytes() for p in (tmp_path / "ck").iterdir()} == before
    assert not leftover_temps(tmp_path)
    load_weights(net, tmp_path / "ck")


def test_numbered_folders_sort_as_numbers_past_a_billion(tmp_path):
    for step in (999_999_999, 1_000_000_000, 5, 20_000_000_000):
        (tmp_path / f"step_{step:09d}").mkdir()
    (tmp_path / "step_x").mkdir()
    assert [p.name for p in numbered(tmp_path, "step_")] == [
        "step_000000005", "step_999999999", "step_1000000000", "step_20000000000"]


def test_ids_and_relative_paths_are_checked(tmp_path):
    (tmp_path / "league" / "players").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", tmp_path / "league" / "players" / "link")
    assert inside(tmp_path / "league", "players/p.1", "x") == (tmp_path / "league" / "players"
                                                               / "p.1").resolve()
    for bad in ("../outside", "/etc/passwd", "players/../../outside", "players/link", "", 3):
        with pytest.raises(UnsafePathError, match="league.json"):
            inside(tmp_path / "league", bad, "league.json: p.checkpoint")
    assert check_id("main_agent_0.init", "id") == "main_agent_0.init"
    for bad in ("../x", "a/b", "a..b", "", "alphabeta:2", None):
        with pytest.raises(UnsafePathError):
            check_id(bad, "league.json: player id")


HOLD = """
import sys, time
from ludus.agents.files import WriterLock
lock = WriterLock(sys.argv[1])
print("held", flush=True)
time.sleep(120)
"""


@contextlib.contextmanager
def hold_lock(folder: Path) -> Iterator[subprocess.Popen]:
    """A second process holding the folder's writer lock, killed (kill -9) at the end."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_is_refused_with_the_holders_name(tmp_path):
    with hold_lock(tmp_path) as holder, \
            pytest.raises(FolderLockedError, match=f"pid {holder.pid} on .* one writer"):
        WriterLock(tmp_path)
    with WriterLock(tmp_path) as lock:  # a killed writer's lock was released by the kernel
        assert lock.lock.is_locked
