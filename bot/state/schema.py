"""The database's schema: its migrations, applied forward at start, and the checks that refuse a file
that is not ours (not SQLite, another program's database, or a newer toonclip's)."""

from __future__ import annotations

import logging
from pathlib import Path

import aiosqlite

logger = logging.getLogger(__name__)

APPLICATION_ID = 0x746F6F6E  # "toon": marks the file as ours
SQLITE_MAGIC = b"SQLite format 3\x00"

MIGRATIONS: tuple[str, ...] = (
    # 1: label sets per chat
    """
    CREATE TABLE chat_labels (
        chat_id INTEGER PRIMARY KEY,
        labels TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    """,
    # 2: the guessing game
    """
    CREATE TABLE rounds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id INTEGER NOT NULL,
        message_id INTEGER,
        starter_id INTEGER NOT NULL,
        options TEXT NOT NULL,
        answer INTEGER NOT NULL,
        probability REAL NOT NULL,
        ends_at REAL NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0
    );
    CREATE UNIQUE INDEX one_open_round_per_chat ON rounds(chat_id) WHERE closed = 0;
    CREATE TABLE votes (
        round_id INTEGER NOT NULL REFERENCES rounds(id),
        user_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        option INTEGER NOT NULL,
        PRIMARY KEY (round_id, user_id)
    );
    CREATE TABLE scores (
        chat_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        points INTEGER NOT NULL,
        PRIMARY KEY (chat_id, user_id)
    );
    """,
    # 3: a chat's language, as an administrator chose it, and the notes a chat is told only once
    """
    CREATE TABLE chat_language (
        chat_id INTEGER PRIMARY KEY,
        language TEXT NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE chat_notes (
        chat_id INTEGER NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (chat_id, note)
    );
    """,
    # 4: a chat's life on Telegram: groups upgraded to supergroups (old id -> new id), chats the bot
    # cannot reach (blocked, removed, not allowed to write) since when, and one open round per forum topic
    # (thread_id 0: the chat has no topics, or the General topic)
    """
    CREATE TABLE chat_moves (
        old_chat_id INTEGER PRIMARY KEY,
        new_chat_id INTEGER NOT NULL,
        moved_at REAL NOT NULL
    );
    CREATE TABLE unreachable_chats (
        chat_id INTEGER PRIMARY KEY,
        reason TEXT NOT NULL,
        since REAL NOT NULL
    );
    ALTER TABLE rounds ADD COLUMN thread_id INTEGER NOT NULL DEFAULT 0;
    DROP INDEX one_open_round_per_chat;
    CREATE UNIQUE INDEX one_open_round_per_topic ON rounds(chat_id, thread_id) WHERE closed = 0;
    """,
    # 5: a chat's switches (/settings), by name: only those set differently from the default are kept
    """
    CREATE TABLE chat_options (
        chat_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (chat_id, name)
    );
    """,
)


class StorageError(RuntimeError):
    """The database file cannot be used; the message says why."""


def check_file(path: Path) -> None:
    """Refuse a file that is not SQLite, rather than opening a new database over it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        header = f.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise StorageError(f"DATABASE_PATH {path} is not an SQLite database; move it away or point "
                           "DATABASE_PATH elsewhere.")


async def migrate(db: aiosqlite.Connection, path: Path) -> None:
    """Refuse another program's or a newer toonclip's database; apply the missing migrations, each in
    one transaction with the version it brings (PRAGMA user_version)."""
    async with db.execute("PRAGMA application_id") as cursor:
        (app_id,) = await cursor.fetchone()  # type: ignore[misc]
    async with db.execute("SELECT count(*) FROM sqlite_master") as cursor:
        (objects,) = await cursor.fetchone()  # type: ignore[misc]
    if app_id != APPLICATION_ID and objects:
        raise StorageError(f"DATABASE_PATH {path} belongs to another program (it has tables but is not "
                           "a toonclip database); point DATABASE_PATH elsewhere.")
    async with db.execute("PRAGMA user_version") as cursor:
        (version,) = await cursor.fetchone()  # type: ignore[misc]
    if version > len(MIGRATIONS):  # refused before anything is written, the journal mode included
        raise StorageError(f"DATABASE_PATH {path} has schema version {version}, newer than this "
                           f"toonclip knows ({len(MIGRATIONS)}); upgrade toonclip.")
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA synchronous = NORMAL")
    await db.execute("PRAGMA foreign_keys = ON")
    for number in range(version, len(MIGRATIONS)):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, MIGRATIONS[number].split(";")):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number + 1}")
            await db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
        logger.info("Database %s migrated to version %d", path, number + 1)
