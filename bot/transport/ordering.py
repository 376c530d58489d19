"""Updates run concurrently, except that what changes a chat comes before what follows it there.

`/labels fox, wolf` followed at once by a photo in the same chat must classify the photo with
the new labels. Pictures from different chats, and several pictures from one chat, still run
side by side so the worker sees batches; only an update that changes a chat's state (its
labels, its game round) waits for the chat's earlier updates, and the chat's later updates
wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


@dataclass
class _Chat:
    last_change: asyncio.Future[None] | None = None  # the latest state-changing update
    since_change: set[asyncio.Future[None]] = field(default_factory=set)  # updates begun after it


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """python-telegram-bot's concurrent processing with per-chat barriers.

    An update for which changes_state() is true starts after every earlier update of its
    chat has finished; later updates of that chat start after it has finished. Everything
    else runs at once (up to max_concurrent_updates).
    """

    def __init__(self, max_concurrent_updates: int, changes_state: Callable[[Update], bool]) -> None:
        super().__init__(max_concurrent_updates)
        self._changes_state = changes_state
        self._chats: dict[int, _Chat] = {}

    @property
    def chats_tracked(self) -> int:
        """Chats with updates in flight: the only ones whose state is kept."""
        return len(self._chats)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat_id = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        if chat_id is None:
            await coroutine
            return
        # Called in arrival order: everything up to the first await decides this update's place.
        chat = self._chats.setdefault(chat_id, _Chat())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._changes_state(update):  # type: ignore[arg-type]
            before = [f for f in (chat.last_change, *chat.since_change) if f is not None]
            chat.last_change, chat.since_change = done, set()
        else:
            before = [chat.last_change] if chat.last_change is not None else []
            chat.since_change.add(done)
        try:
            if before:
                try:
                    await asyncio.wait(before)
                except asyncio.CancelledError:
                    if asyncio.iscoroutine(coroutine):
                        coroutine.close()  # never started: nothing to undo
                    raise
            await coroutine
        finally:
            done.set_result(None)
            chat.since_change.discard(done)
            if chat.last_change is done:
                chat.last_change = None
            if chat.last_change is None and not chat.since_change and self._chats.get(chat_id) is chat:
                del self._chats[chat_id]  # nothing in flight: forget the chat

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: every update it started has finished by then."""
