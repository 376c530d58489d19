"""The first say on every update, before any handler that answers: who really sent it, whether it is
over its sender's or its chat's rate limit, and whether it is too old to answer. What is over a limit,
or too old, is dropped (python-telegram-bot's ApplicationHandlerStop), never queued.

Telegram shows several senders under one user id: anonymous group admins all come from
GroupAnonymousBot, people posting as a channel from Channel_Bot, a linked channel's automatic forwards
from the Telegram account. For those, `sender_chat` tells them apart, so the sender is that chat;
everyone else is their own user id (a user's messages that also carry a sender_chat still count as
that user's).
"""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.ext import ApplicationHandlerStop, ContextTypes

from bot.conversation.services import services
from bot.conversation.turn import reply
from bot.state.ratelimit import Verdict
from bot.telemetry.metrics import Dropped, metrics_of
from bot.transport.delivery import answering
from bot.words import replies

logger = logging.getLogger(__name__)

GROUP_ANONYMOUS_BOT = 1087968824  # the `from` of an anonymous group administrator's messages
CHANNEL_BOT = 136817688  # the `from` of messages sent on behalf of a channel
TELEGRAM_SERVICE = 777000  # the `from` of a linked channel's automatic forwards
SHARED_SENDERS = frozenset({GROUP_ANONYMOUS_BOT, CHANNEL_BOT, TELEGRAM_SERVICE})


def sender_of(update: Update) -> int:
    """Who really sent the update: the user, or the chat an anonymous admin or a channel posts as
    (whose `from` is an id they all share); 0 when Telegram names nobody."""
    user, message = update.effective_user, update.effective_message
    if user is not None and user.id not in SHARED_SENDERS:
        return user.id
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    return user.id if user is not None else 0


def _keeps_chat_alive(update: Update) -> bool:
    """Updates about the chat's own life (the bot added or removed, an upgrade) are never dropped."""
    message = update.effective_message
    return update.my_chat_member is not None or (
        message is not None and bool(message.migrate_to_chat_id or message.migrate_from_chat_id))


async def gate(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Drop an update over its sender's or its chat's limit (its sender is told once a minute), or one
    already older than REPLY_MAX_AGE_SECONDS; set the deadline of its answers."""
    if not isinstance(update, Update) or _keeps_chat_alive(update):
        return
    svc, metrics = services(context), metrics_of(context)
    message = update.effective_message
    # A message's time is Telegram's (an edit's, for an edited one); a button press carries none of its own.
    if message is not None and update.callback_query is None:
        since = (message.edit_date or message.date).timestamp()
    else:
        since = time.time()
    answering(since + svc.settings.reply_max_age_seconds)
    if time.time() - since > svc.settings.reply_max_age_seconds:
        metrics.dropped_one(Dropped.TOO_LATE)
        raise ApplicationHandlerStop
    # A button press is answered with no message in the chat (answerCallbackQuery): it counts for its sender only.
    chat = update.effective_chat if update.callback_query is None else None
    verdict = svc.update_limit.check(sender_of(update), chat.id if chat is not None else None)
    if verdict is Verdict.ALLOW:
        return
    metrics.dropped_one(Dropped.RATE_LIMITED)
    if verdict is Verdict.WARN:
        t = await svc.speaker_for(update)
        if update.callback_query is not None:
            await update.callback_query.answer(replies.slow_down(t))
        elif message is not None:
            await reply(message, replies.slow_down(t))
    raise ApplicationHandlerStop  # a press over the limit is not answered: its spinner stops by itself
