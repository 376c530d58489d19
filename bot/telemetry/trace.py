"""A picture's way through the bot, timed from its update to its answer.

The update's first handler (group -4, before any other; bot/app.py) counts it by kind and notes when handling
began; python-telegram-bot runs every handler of one update in the same task, so the handler that
sends the prediction finds that moment in a context variable and reports the whole way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from telegram import Update
from telegram.ext import CallbackContext

from bot.telemetry.metrics import metrics_of

_handling_since: ContextVar[float | None] = ContextVar("toonclip_handling_since", default=None)


def update_kind(update: Update) -> str:
    """The update's kind as the Bot API names it: message, callback_query, my_chat_member, ..."""
    return next((kind for kind in Update.ALL_TYPES if getattr(update, kind, None) is not None), "other")


async def arrived(update: object, context: CallbackContext[Any, Any, Any, Any]) -> None:
    """Count the update and start its clock (a TypeHandler in group -4)."""
    _handling_since.set(time.perf_counter())
    metrics_of(context).updates.labels(update_kind(update) if isinstance(update, Update) else "other").inc()


@asynccontextmanager
async def sending_prediction(context: CallbackContext[Any, Any, Any, Any]) -> AsyncIterator[None]:
    """Around the send of a picture's answer: on success, the prediction is counted with its send
    time and its time from the update's arrival."""
    started = time.perf_counter()
    yield
    done = time.perf_counter()
    metrics_of(context).prediction_sent(done - started, done - (_handling_since.get() or started))
