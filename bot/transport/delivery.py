"""Sending to Telegram when the network fails, or when the chat has moved or shut the bot out.

Never twice, never an apology after an answer: a request that timed out or broke after it was
written may well have reached Telegram, and the user may already see it: it is not sent again, and
nobody apologises for it. A request known never to have left (no free connection in the pool, no
connection at all) is retried once. A chat that became a supergroup, or blocked or removed the bot,
is followed by ChatDelivery, which every request passes through.

Never minutes late: an answer whose turn to be sent comes later than its update's deadline (the
update's time plus REPLY_MAX_AGE_SECONDS) is not sent at all; ReplyTooLate says so to the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError
from telegram.ext import AIORateLimiter

from bot.state.chats import Gone
from bot.state.lifecycle import ChatLife

logger = logging.getLogger(__name__)

T = TypeVar("T")
Result = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API request answers
Callback = Callable[..., Coroutine[Any, Any, Result]]

# Set by the update's first handler (bot/conversation/floods.py), in the update's own task: the Unix time
# after which an answer to it is too late. Only answers (reply(), through in_time()) honour it; a round's
# reveal sent by its timer, a task born in that update's context, must not.
_update_deadline: ContextVar[float | None] = ContextVar("toonclip_update_deadline", default=None)
_send_deadline: ContextVar[float | None] = ContextVar("toonclip_send_deadline", default=None)


class ReplyTooLate(Exception):
    """An answer's turn to be sent came after its update's deadline: it was not sent."""


def answering(deadline: float) -> None:
    """The update being handled in this task must be answered by deadline (Unix time) or not at all."""
    _update_deadline.set(deadline)


@contextlib.contextmanager
def in_time() -> Iterator[None]:
    """Meanwhile, requests are sent only before the update's deadline, checked when their turn comes
    (after python-telegram-bot's flood pacing, which is where a busy group's answers wait)."""
    token = _send_deadline.set(_update_deadline.get())
    try:
        yield
    finally:
        _send_deadline.reset(token)

# httpx failures that happen before a byte of the request is written.
_NOT_SENT = (httpx.PoolTimeout, httpx.ConnectError, httpx.ConnectTimeout)


def sent_nothing(error: BaseException) -> bool:
    """Whether a failed request certainly never reached Telegram (safe to send again)."""
    return isinstance(error, NetworkError) and isinstance(error.__cause__, _NOT_SENT)


def may_have_arrived(error: BaseException) -> bool:
    """A network failure after the request may have been written: a timeout, a dropped
    connection. Telegram's own refusals (BadRequest) are answers, not failures of this kind."""
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest) and not sent_nothing(error)


async def send(request: Callable[[], Awaitable[T]]) -> T:
    """Run one send; retry it once when it certainly never left."""
    try:
        return await request()
    except NetworkError as exc:
        if not sent_nothing(exc):
            raise
        logger.info("A request to Telegram was not sent (%s); sending it once more", exc)
        return await request()


def why_gone(error: Forbidden) -> Gone:
    """Read Telegram's Forbidden answer: blocked by the user, removed from the group, or not allowed to write."""
    text = error.message.lower()
    if "blocked by the user" in text or "user is deactivated" in text:
        return Gone.BLOCKED
    if "kicked" in text or "not a member" in text or "deleted" in text or "deactivated" in text:
        return Gone.REMOVED
    return Gone.MUTED


class ChatDelivery(AIORateLimiter):
    """python-telegram-bot's rate limiter, through which every request passes, also follows chats:

    - ChatMigrated (400, the group became a supergroup): the chat's data moves to the new id, then the
      request is sent once more to the new id, unless it names a message of the old chat (an edit),
      which the new chat does not have; a reply no longer quotes.
    - Forbidden (403: blocked, removed, not allowed to write) is an answer, not a bug: one INFO line,
      and the chat is marked unreachable so that nothing keeps sending there. The error still reaches
      the caller, which apologises to nobody.

    chats gives the running ChatLife, or None before the services start (nothing is followed then).
    """

    def __init__(self, chats: Callable[[], ChatLife | None], max_retries: int = 0) -> None:
        super().__init__(max_retries=max_retries)
        self._chats = chats
        self._paced = True

    @contextlib.asynccontextmanager
    async def unpaced(self) -> AsyncIterator[None]:
        """Requests skip the flood pacing meanwhile (Telegram's limits on an account, 30 messages a
        second): for the benchmark, whose Telegram is in process. Chats are still followed."""
        self._paced = False
        try:
            yield
        finally:
            self._paced = True

    async def _send(self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str,
                    data: dict[str, Any], rate_limit_args: int | None) -> Result:
        deadline = _send_deadline.get()
        if deadline is None:
            return await self._paced_send(callback, args, kwargs, endpoint, data, rate_limit_args)
        # A late answer gives up its place in the pacing queue while still waiting there, so a group's
        # backlog drains at once instead of one paced slot at a time; once sent, it is never cancelled.
        began = asyncio.Event()
        sending = asyncio.ensure_future(self._paced_send(_checked(callback, deadline, endpoint, began), args,
                                                         kwargs, endpoint, data, rate_limit_args))
        try:
            await asyncio.wait_for(asyncio.shield(sending), max(0.0, deadline - time.time()))
        except TimeoutError:
            if not began.is_set():
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
                raise ReplyTooLate(f"{endpoint} not sent: its turn came after its update's deadline.") from None
        except asyncio.CancelledError:
            sending.cancel()
            raise
        return await sending

    async def _paced_send(self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str,
                          data: dict[str, Any], rate_limit_args: int | None) -> Result:
        if not self._paced:
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)

    async def process_request(self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str,
                              data: dict[str, Any], rate_limit_args: int | None) -> Result:
        try:
            return await self._send(callback, args, kwargs, endpoint, data, rate_limit_args)
        except ChatMigrated as exc:
            old = _chat_id(data)
            chats = self._chats()
            if chats is None or old is None:
                raise
            await chats.moved(old, exc.new_chat_id)
            if "message_id" in data:
                raise
            again = {key: value for key, value in data.items() if key != "reply_parameters"} | {
                "chat_id": exc.new_chat_id}
            logger.info("%s to chat %d sent once more to its supergroup %d", endpoint, old, exc.new_chat_id)
            return await self._send(callback, (endpoint, again), kwargs, endpoint, again, rate_limit_args)
        except Forbidden as exc:
            chat_id = _chat_id(data)
            chats = self._chats()
            if chats is not None and chat_id is not None:
                reason = why_gone(exc)
                await chats.gone(chat_id, reason)
                logger.info("Telegram refused %s to chat %d (%s); marked unreachable (%s)", endpoint, chat_id,
                            exc.message, reason.value)
            raise


def _checked(callback: Callable[..., Coroutine[Any, Any, T]], deadline: float, endpoint: str,
             began: asyncio.Event) -> Callable[..., Coroutine[Any, Any, T]]:
    """callback, refusing to run after deadline; began is set when it runs."""
    async def checked(*args: Any, **kwargs: Any) -> T:
        late = time.time() - deadline
        if late > 0:
            raise ReplyTooLate(f"{endpoint} not sent: its update's deadline passed {late:.1f} s ago.")
        began.set()
        return await callback(*args, **kwargs)
    return checked


def _chat_id(data: dict[str, Any]) -> int | None:
    try:
        return int(data["chat_id"])
    except (KeyError, TypeError, ValueError):
        return None
