"""A chat's life on Telegram: a group upgraded to a supergroup takes its data along; a chat that
blocked or removed the bot is sent nothing more, and is forgotten FORGET_AFTER_DAYS later unless the
bot is back by then.

Telegram tells of an upgrade twice (a service message in the old chat and one in the new) and answers
a send to the old id with ChatMigrated: whichever comes first moves the data, in one transaction, and
the others find nothing left to move. Forgetting runs at start and then every FORGET_CHECK_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from bot.state.chats import ChatStore, ForgottenChat, ForgottenPlayer, Gone
from bot.state.storage import Storage

logger = logging.getLogger(__name__)

DAY_SECONDS = 86_400.0


class ChatLife:
    """Owns which chats are unreachable (kept in memory too: every update asks) and the forgetting."""

    def __init__(self, storage: Storage, forget_after_days: float, check_seconds: float,
                 clock: Callable[[], float], rounds_keep_days: float) -> None:
        self._store = ChatStore(storage)
        self.forget_after_days = forget_after_days
        self.check_seconds = check_seconds
        self.clock = clock
        self.rounds_keep_days = rounds_keep_days
        self.sweeps = 0  # forgetting passes so far: tests wait on it rather than on time
        self._gone: dict[int, Gone] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Load the unreachable chats, forget those that are due, and keep doing it periodically."""
        self._gone = await self._store.unreachable()
        await self.sweep()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_periodically(), name="forget")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    def reachable(self, chat_id: int) -> bool:
        """Whether sending to the chat may succeed (it has not blocked, removed or muted the bot)."""
        return chat_id not in self._gone

    async def moved(self, old: int, new: int) -> None:
        """A group became a supergroup: everything stored under its old id now lives under the new one."""
        if await self._store.move(old, new, self.clock()):
            logger.info("Chat %d was upgraded to supergroup %d; its data moved along", old, new)
        self._gone.pop(old, None)

    async def gone(self, chat_id: int, reason: Gone) -> None:
        """Telegram will not deliver to the chat: send nothing more there; forget it now when
        FORGET_AFTER_DAYS is 0 and the bot was blocked or removed."""
        await self._store.mark_unreachable(chat_id, reason, self.clock())
        self._gone[chat_id] = reason
        if reason.forgotten and self.forget_after_days == 0:
            await self.forget(chat_id)

    async def back(self, chat_id: int) -> None:
        """Someone wrote from the chat or the bot was added back: it is reachable again, and kept."""
        if self._gone.pop(chat_id, None) is not None:
            await self._store.mark_reachable(chat_id)
            logger.info("Chat %d is reachable again", chat_id)

    async def forget(self, chat_id: int) -> ForgottenChat:
        """Delete everything stored about the chat."""
        forgotten = await self._store.forget_chat(chat_id)
        self._gone.pop(chat_id, None)
        logger.info("Forgot chat %d: %s", chat_id, forgotten)
        return forgotten

    async def forget_player(self, user_id: int) -> ForgottenPlayer:
        """Delete a player's name, votes and points in every chat (/forget me)."""
        player = await self._store.forget_player(user_id)
        logger.info("Forgot a player: %s", player)
        return player

    async def sweep(self) -> list[int]:
        """Forget the chats that have been removed or blocked for FORGET_AFTER_DAYS, and the game rounds
        that ended over ROUNDS_KEEP_DAYS ago; returns the chats' ids."""
        due = await self._store.due(self.clock() - self.forget_after_days * DAY_SECONDS)
        for chat_id in due:
            await self.forget(chat_id)
        dropped = await self._store.drop_rounds(self.clock() - self.rounds_keep_days * DAY_SECONDS)
        if dropped:
            logger.info("Deleted %d game rounds that ended over ROUNDS_KEEP_DAYS ago", dropped)
        self.sweeps += 1
        return due

    async def _sweep_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                await self.sweep()
            except Exception:  # the next pass tries again; the bot keeps running
                logger.exception("Could not forget the chats that are due")
