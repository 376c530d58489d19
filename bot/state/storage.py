"""SQLite storage: per-chat label sets, languages, game rounds, votes and scores.

Only chat ids, user ids, display names, label sets and scores are stored; never a picture. What a
chat's life on Telegram does to them (upgrades, removals, forgetting) is in bot/state/chats.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import aiosqlite

from bot.state.schema import StorageError, check_file, migrate
from classifier.private import make_private, make_private_dir, private_file

logger = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
LEADERBOARD_SIZE = 10  # /top shows this many players


@dataclass(frozen=True)
class Round:
    id: int
    chat_id: int
    thread_id: int  # the forum topic it is played in; 0 outside topics
    message_id: int | None
    starter_id: int
    options: tuple[str, ...]
    answer: int
    probability: float
    ends_at: float
    closed: bool


class VoteOutcome(Enum):
    """What became of a button press."""

    RECORDED = "recorded"
    ALREADY = "already"  # this player voted in this round before
    CLOSED = "closed"  # the round is over (or never was)


@dataclass(frozen=True)
class Vote:
    user_id: int
    name: str
    option: int


class Storage:
    """One aiosqlite connection; every write that reads first runs in an immediate transaction."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # One connection: writes take turns, so one coroutine's transaction never swallows another's statements.
        self._lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        """The connection, for reads; writes go through transaction()."""
        return self._db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
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
        make_private_dir(path.parent)
        check_file(path)
        # 0600, and SQLite gives the -wal and -shm files it makes the database file's mode.
        for suffix in ("", "-wal", "-shm", "-journal"):
            make_private(Path(f"{path}{suffix}"))
        if not path.exists():
            private_file(path).close()
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

    async def scrub(self) -> None:
        """Copy the write-ahead log into the database and empty it, so that rows just deleted (zeroed
        by secure_delete) are in no file any more; after /forget and the forgetting of a chat."""
        async with self._lock, self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
            busy, _, _ = await cursor.fetchone()  # type: ignore[misc]
        if busy:  # another connection (a backup) is reading: the next scrub finishes it
            logger.warning("The write-ahead log of %s could not be emptied now", self.path)

    async def _prepare(self) -> None:
        await self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Deleted rows are overwritten with zeros, not left in free pages (what /forget promises).
        await self._db.execute("PRAGMA secure_delete = ON")
        await migrate(self._db, self.path)

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
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO chat_labels (chat_id, labels, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_id) DO UPDATE SET labels = excluded.labels, updated_at = excluded.updated_at",
                (chat_id, json.dumps(list(labels), ensure_ascii=False), time.time()),
            )

    async def reset_labels(self, chat_id: int) -> None:
        async with self.transaction() as db:
            await db.execute("DELETE FROM chat_labels WHERE chat_id = ?", (chat_id,))

    # Languages

    async def get_language(self, chat_id: int) -> str | None:
        """The language chosen for the chat with /language, or None when nobody chose."""
        async with self._db.execute("SELECT language FROM chat_language WHERE chat_id = ?", (chat_id,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def set_language(self, chat_id: int, language: str) -> None:
        """Store the chat's language; committed when this returns."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO chat_language (chat_id, language, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(chat_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
                (chat_id, language, time.time()),
            )

    async def get_option(self, chat_id: int, name: str) -> bool | None:
        """A chat's own choice for one switch (/settings), or None when it made none."""
        async with self._db.execute("SELECT enabled FROM chat_options WHERE chat_id = ? AND name = ?",
                                    (chat_id, name)) as cursor:
            row = await cursor.fetchone()
        return bool(row[0]) if row else None

    async def get_options(self, chat_id: int) -> dict[str, bool]:
        """Every choice a chat made in /settings, by switch name."""
        async with self._db.execute("SELECT name, enabled FROM chat_options WHERE chat_id = ?",
                                    (chat_id,)) as cursor:
            return {str(name): bool(enabled) for name, enabled in await cursor.fetchall()}

    async def set_option(self, chat_id: int, name: str, enabled: bool) -> None:
        """Store a chat's choice for one switch; committed when this returns."""
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO chat_options (chat_id, name, enabled, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(chat_id, name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
                (chat_id, name, int(enabled), time.time()),
            )

    async def first_time(self, chat_id: int, note: str) -> bool:
        """True the first time a note is asked for in a chat, and never again (committed)."""
        async with self.transaction() as db:
            cursor = await db.execute("INSERT OR IGNORE INTO chat_notes (chat_id, note) VALUES (?, ?)", (chat_id, note))
            return cursor.rowcount == 1

    # The guessing game

    async def open_round(self, chat_id: int, thread_id: int, starter_id: int, options: tuple[str, ...],
                         answer: int, probability: float, ends_at: float) -> int | None:
        """A new open round, or None when the chat's topic already has one."""
        try:
            async with self.transaction() as db:
                cursor = await db.execute(
                    "INSERT INTO rounds (chat_id, thread_id, starter_id, options, answer, probability, ends_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (chat_id, thread_id, starter_id, json.dumps(list(options), ensure_ascii=False), answer,
                     probability, ends_at),
                )
        except aiosqlite.IntegrityError:
            return None
        return cursor.lastrowid

    async def set_round_message(self, round_id: int, message_id: int) -> None:
        async with self.transaction() as db:
            await db.execute("UPDATE rounds SET message_id = ? WHERE id = ?", (message_id, round_id))

    async def _rounds(self, where: str, args: tuple[object, ...]) -> list[Round]:
        query = ("SELECT id, chat_id, thread_id, message_id, starter_id, options, answer, probability, ends_at, "
                 f"closed FROM rounds WHERE {where} ORDER BY id")
        async with self._db.execute(query, args) as cursor:
            rows = await cursor.fetchall()
        return [Round(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5])), r[6], r[7], r[8], bool(r[9]))
                for r in rows]

    async def get_round(self, round_id: int) -> Round | None:
        found = await self._rounds("id = ?", (round_id,))
        return found[0] if found else None

    async def open_round_in(self, chat_id: int, thread_id: int) -> Round | None:
        """The open round of a chat's topic (thread 0: the chat outside topics)."""
        found = await self._rounds("chat_id = ? AND thread_id = ? AND closed = 0", (chat_id, thread_id))
        return found[0] if found else None

    async def open_rounds(self) -> list[Round]:
        return await self._rounds("closed = 0", ())

    async def vote(self, round_id: int, user_id: int, name: str, option: int, now: float) -> VoteOutcome:
        """Record a vote, atomically with the round's end."""
        async with self.transaction() as db:
            async with db.execute("SELECT closed, ends_at FROM rounds WHERE id = ?", (round_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None or row[0] or now >= row[1]:
                outcome = VoteOutcome.CLOSED
            else:
                cursor = await db.execute(
                    "INSERT OR IGNORE INTO votes (round_id, user_id, name, option) VALUES (?, ?, ?, ?)",
                    (round_id, user_id, name, option),
                )
                outcome = VoteOutcome.RECORDED if cursor.rowcount == 1 else VoteOutcome.ALREADY
        return outcome

    async def vote_count(self, round_id: int) -> int:
        async with self._db.execute("SELECT count(*) FROM votes WHERE round_id = ?", (round_id,)) as cursor:
            (count,) = await cursor.fetchone()  # type: ignore[misc]
        return int(count)

    async def close_round(self, round_id: int) -> tuple[Round, list[Vote]] | None:
        """End a round and give each right voter a point; None if it was already over."""
        async with self.transaction() as db:
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

    async def leaderboard(self, chat_id: int, limit: int = LEADERBOARD_SIZE) -> list[tuple[str, int]]:
        async with self._db.execute(
            "SELECT name, points FROM scores WHERE chat_id = ? ORDER BY points DESC, name LIMIT ?", (chat_id, limit)
        ) as cursor:
            return [(r[0], r[1]) for r in await cursor.fetchall()]
