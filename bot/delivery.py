"""Sending to Telegram when the network fails: never twice, never an apology after an answer.

A request that timed out or broke after it was written may well have reached Telegram, and
the user may already see it: it is not sent again, and nobody apologises for it. A request
known never to have left (no free connection in the pool, no connection at all) is retried
once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from telegram.error import BadRequest, NetworkError

logger = logging.getLogger(__name__)

T = TypeVar("T")

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
