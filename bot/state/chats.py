"""The queries of a chat's life on Telegram: a group's move to its supergroup, chats the bot cannot
reach, and forgetting a chat or a player. Each runs in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.state.storage import Storage

# The tables keyed by chat that move with a group to its supergroup; the new chat's own row wins.
_PER_CHAT = (("chat_labels", "labels, updated_at"), ("chat_language", "language, updated_at"), ("chat_notes", "note"),
             ("chat_options", "name, enabled, updated_at"))


class Gone(Enum):
    """Why Telegram refuses to deliver to a chat."""

    BLOCKED = "blocked"  # a user blocked the bot in their private chat
    REMOVED = "removed"  # the bot left or was removed from a group
    MUTED = "muted"  # still there, but not allowed to write

    @property
    def forgotten(self) -> bool:
        """Whether the chat's data is deleted after FORGET_AFTER_DAYS when it stays gone."""
        return self is not Gone.MUTED


@dataclass(frozen=True)
class ForgottenChat:
    """How many rows /forget deleted, per kind."""

    labels: int
    settings: int  # the chat's language and its switches (/settings)
    notes: int
    rounds: int
    votes: int
    scores: int


@dataclass(frozen=True)
class ForgottenPlayer:
    """What /forget me deleted: a player's votes and points, and in how many chats."""

    votes: int
    points: int
    chats: int


class ChatStore:
    """Chat-lifecycle queries over the bot's one database connection."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    async def move(self, old: int, new: int, now: float) -> bool:
        """Move everything stored under a group's old id to its supergroup's id; True when anything moved.
        Running it again changes nothing: nothing is left under the old id."""
        moved = 0
        async with self.storage.transaction() as db:
            await db.execute("INSERT OR IGNORE INTO chat_moves (old_chat_id, new_chat_id, moved_at) VALUES (?, ?, ?)",
                             (old, new, now))
            for table, columns in _PER_CHAT:
                await db.execute(f"INSERT OR IGNORE INTO {table} (chat_id, {columns}) "
                                 f"SELECT ?, {columns} FROM {table} WHERE chat_id = ?", (new, old))
                moved += (await db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (old,))).rowcount
            await db.execute(
                "INSERT INTO scores (chat_id, user_id, name, points) SELECT ?, user_id, name, points FROM scores "
                "WHERE chat_id = ? ON CONFLICT(chat_id, user_id) DO UPDATE SET points = points + excluded.points",
                (new, old))
            moved += (await db.execute("DELETE FROM scores WHERE chat_id = ?", (old,))).rowcount
            # The round messages stay behind in the old chat: a reveal there is sent anew.
            cursor = await db.execute("UPDATE OR IGNORE rounds SET chat_id = ?, message_id = NULL WHERE chat_id = ?",
                                      (new, old))
            moved += cursor.rowcount
            await db.execute("DELETE FROM unreachable_chats WHERE chat_id = ?", (old,))
        return moved > 0

    async def moved_to(self, old: int) -> int | None:
        """The supergroup a group became, if it did."""
        async with self.storage.db.execute("SELECT new_chat_id FROM chat_moves WHERE old_chat_id = ?",
                                           (old,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def unreachable(self) -> dict[int, Gone]:
        """Every chat the bot cannot reach, and why."""
        async with self.storage.db.execute("SELECT chat_id, reason FROM unreachable_chats") as cursor:
            return {int(r[0]): Gone(r[1]) for r in await cursor.fetchall()}

    async def mark_unreachable(self, chat_id: int, reason: Gone, since: float) -> None:
        """Record that a chat cannot be reached; a chat already marked for the same reason keeps its time."""
        async with self.storage.transaction() as db:
            await db.execute(
                "INSERT INTO unreachable_chats (chat_id, reason, since) VALUES (?, ?, ?) ON CONFLICT(chat_id) "
                "DO UPDATE SET since = CASE WHEN reason = excluded.reason THEN since ELSE excluded.since END, "
                "reason = excluded.reason", (chat_id, reason.value, since))

    async def mark_reachable(self, chat_id: int) -> None:
        async with self.storage.transaction() as db:
            await db.execute("DELETE FROM unreachable_chats WHERE chat_id = ?", (chat_id,))

    async def due(self, before: float) -> list[int]:
        """Chats removed or blocked since before (or earlier), whose data is to be forgotten."""
        forgotten = [gone.value for gone in Gone if gone.forgotten]
        marks = ", ".join("?" * len(forgotten))
        async with self.storage.db.execute(
            f"SELECT chat_id FROM unreachable_chats WHERE reason IN ({marks}) AND since <= ? ORDER BY chat_id",
            (*forgotten, before),
        ) as cursor:
            return [int(r[0]) for r in await cursor.fetchall()]

    async def forget_chat(self, chat_id: int) -> ForgottenChat:
        """Delete everything stored about a chat: labels, language, notes, rounds, votes, scores, and the
        records of its upgrade and of its being unreachable."""
        async with self.storage.transaction() as db:
            async def delete(query: str, *args: int) -> int:
                return int((await db.execute(query, args)).rowcount)

            forgotten = ForgottenChat(
                labels=await delete("DELETE FROM chat_labels WHERE chat_id = ?", chat_id),
                settings=await delete("DELETE FROM chat_language WHERE chat_id = ?", chat_id)
                + await delete("DELETE FROM chat_options WHERE chat_id = ?", chat_id),
                notes=await delete("DELETE FROM chat_notes WHERE chat_id = ?", chat_id),
                votes=await delete("DELETE FROM votes WHERE round_id IN (SELECT id FROM rounds WHERE chat_id = ?)",
                                   chat_id),
                rounds=await delete("DELETE FROM rounds WHERE chat_id = ?", chat_id),
                scores=await delete("DELETE FROM scores WHERE chat_id = ?", chat_id),
            )
            await delete("DELETE FROM unreachable_chats WHERE chat_id = ?", chat_id)
            await delete("DELETE FROM chat_moves WHERE old_chat_id = ? OR new_chat_id = ?", chat_id, chat_id)
        await self.storage.scrub()
        return forgotten

    async def forget_player(self, user_id: int) -> ForgottenPlayer:
        """Delete a player's name, votes and points in every chat; the rounds they started forget who did."""
        async with self.storage.transaction() as db:
            async with db.execute(
                "SELECT count(*) FROM (SELECT chat_id FROM scores WHERE user_id = ? UNION "
                "SELECT r.chat_id FROM votes v JOIN rounds r ON r.id = v.round_id WHERE v.user_id = ?)",
                (user_id, user_id),
            ) as cursor:
                (chats,) = await cursor.fetchone()  # type: ignore[misc]
            async with db.execute("SELECT coalesce(sum(points), 0) FROM scores WHERE user_id = ?",
                                  (user_id,)) as cursor:
                (points,) = await cursor.fetchone()  # type: ignore[misc]
            votes = (await db.execute("DELETE FROM votes WHERE user_id = ?", (user_id,))).rowcount
            await db.execute("DELETE FROM scores WHERE user_id = ?", (user_id,))
            await db.execute("UPDATE rounds SET starter_id = 0 WHERE starter_id = ?", (user_id,))
        await self.storage.scrub()
        return ForgottenPlayer(votes=int(votes), points=int(points), chats=int(chats))

    async def drop_rounds(self, ended_before: float) -> int:
        """Delete the closed rounds that ended before then, with their votes (the scores stay); how many."""
        async with self.storage.transaction() as db:
            await db.execute("DELETE FROM votes WHERE round_id IN (SELECT id FROM rounds WHERE closed = 1 "
                             "AND ends_at < ?)", (ended_before,))
            return int((await db.execute("DELETE FROM rounds WHERE closed = 1 AND ends_at < ?",
                                         (ended_before,))).rowcount)
