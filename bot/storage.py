"""SQLite storage: per-chat label sets, game rounds, votes and scores.

Only chat ids, user ids, display names, label sets and scores are stored; never a picture.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

logger = logging.getLogger(__name__)

APPLICATION_ID = 0x746F6F6E  # "toon": marks the file as ours
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000

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
)


class StorageError(RuntimeError):
    """The database file cannot be used; the message says why."""


@dataclass(frozen=True)
class Round:
    id: int
    chat_id: int
    message_id: int | None
    starter_id: int
    options: tuple[str, ...]
    answer: int
    probability: float
    ends_at: float
    closed: bool


@dataclass(frozen=True)
class Vote:
    user_id: int
    name: str
    option: int


def _check_file(path: Path) -> None:
    """Refuse a file that is not SQLite, rather than opening a new database over it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb") as f:
        header = f.read(len(SQLITE_MAGIC))
    if header != SQLITE_MAGIC:
        raise StorageError(f"DATABASE_PATH {path} is not an SQLite database; move it away or point "
                           "DATABASE_PATH elsewhere.")


class Storage:
    """One aiosqlite connection; every write that reads first runs in an immediate transaction."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # One connection: writes take turns, so one coroutine's transaction never swallows another's statements.
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; committed when the block ends."""
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    @classmethod
    async def open(cls, path: Path) -> Storage:
        """Open (or create) the database at path and bring its schema up to date."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _check_file(path)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            storage = cls(db, path)
            await storage._prepare()
        except aiosqlite.DatabaseError as exc:
            await db.close()
            raise StorageError(f"DATABASE_PATH {path} is damaged or not a database: {exc}.") from exc
        except BaseException:
            await db.close()
            raise
        return storage

    async def close(self) -> None:
        await self._db.close()

    async def _prepare(self) -> None:
        db = self._db
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        async with db.execute("PRAGMA application_id") as cursor:
            (app_id,) = await cursor.fetchone()  # type: ignore[misc]
        async with db.execute("SELECT count(*) FROM sqlite_master") as cursor:
            (objects,) = await cursor.fetchone()  # type: ignore[misc]
        if app_id != APPLICATION_ID and objects:
            raise StorageError(f"DATABASE_PATH {self.path} belongs to another program (it has tables but is not "
                               "a toonclip database); point DATABASE_PATH elsewhere.")
        async with db.execute("PRAGMA user_version") as cursor:
            (version,) = await cursor.fetchone()  # type: ignore[misc]
        if version > len(MIGRATIONS):  # refused before anything is written, the journal mode included
            raise StorageError(f"DATABASE_PATH {self.path} has schema version {version}, newer than this "
                               f"toonclip knows ({len(MIGRATIONS)}); upgrade toonclip.")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        for number in range(version, len(MIGRATIONS)):
            async with self._transaction():
                for statement in filter(str.strip, MIGRATIONS[number].split(";")):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {number + 1}")
                await db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            logger.info("Database %s migrated to version %d", self.path, number + 1)

    async def schema_version(self) -> int:
        async with self._db.execute("PRAGMA user_version") as cursor:
            (version,) = await cursor.fetchone()  # type: ignore[misc]
        return int(version)

    # Label sets

    async def get_labels(self, chat_id: int) -> tuple[str, ...] | None:
        """The chat's own label set, or None when it uses the default."""
        async with self._db.execute("SELECT labels FROM chat_labels WHERE chat_id = ?", (chat_id,)) as cursor:
            row = await cursor.fetchone()
        return tuple(json.loads(row[0])) if row else None

    async def set_labels(self, chat_id: int, labels: tuple[str, ...]) -> None:
        """Store the chat's label set; committed when this returns."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO chat_labels (chat_id, labels, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_id) DO UPDATE SET labels = excluded.labels, updated_at = excluded.updated_at",
                (chat_id, json.dumps(list(labels), ensure_ascii=False), time.time()),
            )

    async def reset_labels(self, chat_id: int) -> None:
        async with self._transaction() as db:
            await db.execute("DELETE FROM chat_labels WHERE chat_id = ?", (chat_id,))

    # Languages

    async def get_language(self, chat_id: int) -> str | None:
        """The language chosen for the chat with /language, or None when nobody chose."""
        async with self._db.execute("SELECT language FROM chat_language WHERE chat_id = ?", (chat_id,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def set_language(self, chat_id: int, language: str) -> None:
        """Store the chat's language; committed when this returns."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO chat_language (chat_id, language, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
                (chat_id, language, time.time()),
            )

    async def first_time(self, chat_id: int, note: str) -> bool:
        """True the first time a note is asked for in a chat, and never again (committed)."""
        async with self._transaction() as db:
            cursor = await db.execute("INSERT OR IGNORE INTO chat_notes (chat_id, note) VALUES (?, ?)", (chat_id, note))
            return cursor.rowcount == 1

    # The guessing game

    async def open_round(self, chat_id: int, starter_id: int, options: tuple[str, ...], answer: int,
                         probability: float, ends_at: float) -> int | None:
        """A new open round, or None when the chat already has one."""
        try:
            async with self._transaction() as db:
                cursor = await db.execute(
                    "INSERT INTO rounds (chat_id, starter_id, options, answer, probability, ends_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (chat_id, starter_id, json.dumps(list(options), ensure_ascii=False), answer, probability,
                     ends_at),
                )
        except aiosqlite.IntegrityError:
            return None
        return cursor.lastrowid

    async def set_round_message(self, round_id: int, message_id: int) -> None:
        async with self._transaction() as db:
            await db.execute("UPDATE rounds SET message_id = ? WHERE id = ?", (message_id, round_id))

    async def _rounds(self, where: str, args: tuple[object, ...]) -> list[Round]:
        query = ("SELECT id, chat_id, message_id, starter_id, options, answer, probability, ends_at, closed "
                 f"FROM rounds WHERE {where} ORDER BY id")
        async with self._db.execute(query, args) as cursor:
            rows = await cursor.fetchall()
        return [Round(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[7], bool(r[8])) for r in rows]

    async def get_round(self, round_id: int) -> Round | None:
        found = await self._rounds("id = ?", (round_id,))
        return found[0] if found else None

    async def open_round_in(self, chat_id: int) -> Round | None:
        found = await self._rounds("chat_id = ? AND closed = 0", (chat_id,))
        return found[0] if found else None

    async def open_rounds(self) -> list[Round]:
        return await self._rounds("closed = 0", ())

    async def vote(self, round_id: int, user_id: int, name: str, option: int, now: float) -> str:
        """Record a vote: 'recorded', 'already' or 'closed', atomically with the round's end."""
        async with self._transaction() as db:
            async with db.execute("SELECT closed, ends_at FROM rounds WHERE id = ?", (round_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None or row[0] or now >= row[1]:
                outcome = "closed"
            else:
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO votes (round_id, user_id, name, option) VALUES (?, ?, ?, ?)",
                    (round_id, user_id, name, option),
                )
                outcome = "recorded" if cursor.rowcount == 1 else "already"
        return outcome

    async def vote_count(self, round_id: int) -> int:
        async with self._db.execute("SELECT count(*) FROM votes WHERE round_id = ?", (round_id,)) as cursor:
            (count,) = await cursor.fetchone()  # type: ignore[misc]
        return int(count)

    async def close_round(self, round_id: int) -> tuple[Round, list[Vote]] | None:
        """End a round and give each right voter a point; None if it was already over."""
        async with self._transaction() as db:
            cursor = await db.execute("UPDATE rounds SET closed = 1 WHERE id = ? AND closed = 0", (round_id,))
            if cursor.rowcount != 1:
                return None
            [ended] = await self._rounds("id = ?", (round_id,))
            async with db.execute(
                "SELECT user_id, name, option FROM votes WHERE round_id = ? ORDER BY rowid", (round_id,)
            ) as cursor:
                votes = [Vote(r[0], r[1], r[2]) for r in await cursor.fetchall()]
            for vote in votes:
                if vote.option == ended.answer:
                    await db.execute(
                        "INSERT INTO scores (chat_id, user_id, name, points) VALUES (?, ?, ?, 1) "
                        "ON CONFLICT(chat_id, user_id) DO UPDATE SET points = points + 1, name = excluded.name",
                        (ended.chat_id, vote.user_id, vote.name),
                    )
        return ended, votes

    async def leaderboard(self, chat_id: int, limit: int = 10) -> list[tuple[str, int]]:
        async with self._db.execute(
            "SELECT name, points FROM scores WHERE chat_id = ? ORDER BY points DESC, name LIMIT ?", (chat_id, limit)
        ) as cursor:
            return [(r[0], r[1]) for r in await cursor.fetchall()]
