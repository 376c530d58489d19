"""python -m bot backup: a consistent copy while the bot writes, and a restore that finds every write
acknowledged before the backup began."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from bot.ops.backup import backup
from bot.state.schema import StorageError
from bot.state.storage import Storage

ROOT = Path(__file__).resolve().parent.parent


def environment(database: Path) -> dict[str, str]:
    """No token: the backup needs none. The worktree's code first."""
    env = {key: value for key, value in os.environ.items() if key != "TELEGRAM_BOT_TOKEN"}
    return env | {"DATABASE_PATH": str(database), "PYTHONPATH": str(ROOT)}


async def test_a_backup_during_writes_restores_everything_acknowledged(tmp_path: Path, patience: float) -> None:
    database, target = tmp_path / "live.sqlite3", tmp_path / "backups" / "toonclip.sqlite3"
    storage = await Storage.open(database)
    acknowledged = 0
    stop = asyncio.Event()

    async def write() -> None:
        nonlocal acknowledged
        chat = 0
        while not stop.is_set():
            chat += 1
            await storage.set_labels(chat, (f"label{chat}", "fox"))  # committed when it returns
            acknowledged = chat

    writer = asyncio.create_task(write())
    try:
        deadline = time.monotonic() + 10 * patience
        while acknowledged < 20:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        before = acknowledged
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "backup", str(target), cwd=tmp_path, env=environment(database),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await command.communicate()
        during = acknowledged
    finally:
        stop.set()
        await writer
        await storage.close()
    assert command.returncode == 0, output.decode()
    assert "Backed up" in output.decode()
    assert during > before  # the writes went on while the backup ran
    assert not Path(f"{target}-wal").exists() and not target.with_name(f"{target.name}.partial").exists()

    # Restore as the README says: the bot stopped, the backup copied to DATABASE_PATH.
    restored = tmp_path / "restored" / "toonclip.sqlite3"
    restored.parent.mkdir()
    shutil.copyfile(target, restored)
    storage = await Storage.open(restored)
    try:
        chats = [chat for chat in range(1, during + 1) if await storage.get_labels(chat) is not None]
        assert await storage.get_labels(before) == (f"label{before}", "fox")
    finally:
        await storage.close()
    # One moment's database: every write up to some point, none after it, and no earlier one missing.
    assert chats == list(range(1, len(chats) + 1))
    assert before <= len(chats) <= during


def test_a_backup_refuses_what_it_cannot_copy(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="does not exist: nothing to back up"):
        backup(tmp_path / "none.sqlite3", tmp_path / "copy.sqlite3")
    other = tmp_path / "other.sqlite3"
    with closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StorageError, match="is not a toonclip database"):
        backup(other, tmp_path / "copy.sqlite3")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["other.sqlite3"]  # nothing left behind
    with pytest.raises(StorageError, match="elsewhere than the database itself"):
        backup(other, other)
