"""Updates run concurrently, except that what changes a chat comes before what follows it there.

`/labels fox, wolf` followed at once by a photo in the same chat must classify the photo with
the new labels. Pictures from different chats, and several pictures from one chat, still run
side by side so the worker sees batches; only an update that changes a chat's state (its
labels, its game round) waits for the chat's earlier updates, and the chat's later updates
wait for it.

Waiting never holds one of the CONCURRENT_UPDATES slots: an update takes a slot only once its chat's
turn has come, and one chat's updates hold at most an eighth of the slots at once, so a busy group's
backlog (its answers paced at Telegram's 20 messages a minute) never keeps other chats waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

CHAT_SHARE = 8  # one chat's updates hold at most 1/CHAT_SHARE of the slots at once
WAITING_SHARE = 16  # updates in the processor at once, waiting ones included: this many times the slots


@dataclass
class _Chat:
    slots: asyncio.Semaphore  # how many of the processor's slots this chat may hold at once
    last_change: asyncio.Future[None] | None = None  # the latest state-changing update
    since_change: set[asyncio.Future[None]] = field(default_factory=set)  # updates begun after it


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    """python-telegram-bot's concurrent processing with per-chat barriers.

    An update for which changes_state() is true starts after every earlier update of its
    chat has finished; later updates of that chat start after it has finished. Everything
    else runs at once (up to max_concurrent_updates, and per_chat of one chat's). An update
    takes its slot once it may start, never while it waits for its chat.
    """

    def __init__(self, max_concurrent_updates: int, changes_state: Callable[[Update], bool],
                 per_chat: int | None = None) -> None:
        # python-telegram-bot's own bound counts updates waiting for their chat too, so it is set wider (and
        # process_update is final): the slots that matter, max_concurrent_updates, are taken once a chat's turn comes.
        super().__init__(max_concurrent_updates * WAITING_SHARE)
        self._changes_state = changes_state
        self.slots = max_concurrent_updates
        self._running = asyncio.Semaphore(max_concurrent_updates)
        self._holding = 0
        self._per_chat = per_chat or max(1, max_concurrent_updates // CHAT_SHARE)
        self._chats: dict[int, _Chat] = {}

    @property
    def chats_tracked(self) -> int:
        """Chats with updates in flight: the only ones whose state is kept."""
        return len(self._chats)

    @property
    def running(self) -> int:
        """Updates holding one of the slots now (not those waiting for their chat's turn or a slot)."""
        return self._holding

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's turn and one of its share of the slots, then take a slot and run the update."""
        chat_id = update.effective_chat.id if isinstance(update, Update) and update.effective_chat else None
        if chat_id is None:
            await self._run(coroutine)
            return
        # Called in arrival order: everything up to the first await decides this update's place.
        chat = self._chats.setdefault(chat_id, _Chat(asyncio.Semaphore(self._per_chat)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._changes_state(update):  # type: ignore[arg-type]
            before = [f for f in (chat.last_change, *chat.since_change) if f is not None]
            chat.last_change, chat.since_change = done, set()
        else:
            before = [chat.last_change] if chat.last_change is not None else []
            chat.since_change.add(done)
        try:
            try:
                if before:
                    await asyncio.wait(before)
                await chat.slots.acquire()
            except asyncio.CancelledError:
                if asyncio.iscoroutine(coroutine):
                    coroutine.close()  # never started: nothing to undo
                raise
            try:
                await self._run(coroutine)
            finally:
                chat.slots.release()
        finally:
            done.set_result(None)
            chat.since_change.discard(done)
            if chat.last_change is done:
                chat.last_change = None
            if chat.last_change is None and not chat.since_change and self._chats.get(chat_id) is chat:
                del self._chats[chat_id]  # nothing in flight: forget the chat

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        """Take a slot, then run the update."""
        try:
            await self._running.acquire()
        except asyncio.CancelledError:
            if asyncio.iscoroutine(coroutine):
                coroutine.close()  # never started: nothing to undo
            raise
        self._holding += 1
        try:
            await coroutine
        finally:
            self._holding -= 1
            self._running.release()

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: every update it started has finished by then."""
