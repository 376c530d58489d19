"""`python -m bot backup PATH`: a consistent copy of the database while the bot runs.

SQLite's online backup API (sqlite3.Connection.backup) copies every page in one step from one read
transaction: the copy is the database as it was at one moment, with every write committed before
that moment and none of a write still in progress. The database is in WAL mode, so the bot keeps
writing meanwhile. The copy is written next to PATH, checked, and renamed over PATH, so PATH is
always either the old backup or a whole new one. Restoring is copying it back while the bot is
stopped (README, Operating toonclip).
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from bot.state.schema import APPLICATION_ID, StorageError
from classifier.private import make_private_dir, private_file

BUSY_SECONDS = 10.0  # how long to wait for a writer's lock before giving up


@dataclass(frozen=True)
class BackupDone:
    path: Path
    bytes: int
    seconds: float


def backup(database: Path, target: Path) -> BackupDone:
    """Copy database to target atomically; raises StorageError with a sentence that says why not."""
    if not database.is_file():
        raise StorageError(f"DATABASE_PATH {database} does not exist: nothing to back up.")
    if target.exists() and target.resolve() == database.resolve():
        raise StorageError(f"The backup must go elsewhere than the database itself ({database}).")
    if target.is_dir():
        raise StorageError(f"{target} is a folder; give the backup file's name, e.g. {target / 'toonclip.sqlite3'}.")
    make_private_dir(target.parent)
    partial = target.with_name(f"{target.name}.partial")
    partial.unlink(missing_ok=True)
    private_file(partial).close()  # 0600 (an empty file is an empty database): it holds user ids and names
    started = time.perf_counter()
    try:
        with closing(sqlite3.connect(database, timeout=BUSY_SECONDS)) as source, \
                closing(sqlite3.connect(partial)) as copy:
            (app_id,) = source.execute("PRAGMA application_id").fetchone()
            if app_id != APPLICATION_ID:
                raise StorageError(f"DATABASE_PATH {database} is not a toonclip database.")
            source.backup(copy)  # every page in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
            (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise StorageError(f"The copy of {database} failed SQLite's integrity check: {verdict}.")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StorageError(f"Could not back up {database} to {target}: {exc}.") from exc
    finally:
        partial.unlink(missing_ok=True)
    return BackupDone(target, target.stat().st_size, time.perf_counter() - started)
