"""Where the AI looked: the "Where?" button under an answer, and /where for clients that hide buttons
(as a reply to an answer, or alone for the chat's latest answer to the sender)."""

from __future__ import annotations

import logging

from telegram import Chat, Message, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.conversation.floods import sender_of
from bot.conversation.rounds import topic_of
from bot.conversation.services import Services
from bot.conversation.turn import press, reply, turn
from bot.state.answers import HeldAnswer
from bot.state.ratelimit import Verdict
from bot.transport.pictures import Picture, PictureTooLarge
from bot.words import replies
from bot.words.i18n import Speaker
from classifier import ImageError, MapUnsupported, WorkerBusy, WorkerStopped

logger = logging.getLogger(__name__)


async def where(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show where the AI looked for the answer this replies to, or the sender's latest: /where."""
    if (now := await turn(update, context)) is None:
        return
    asker, private = sender_of(update), now.chat.type == Chat.PRIVATE
    answer = now.message.reply_to_message
    if answer is not None:
        held = now.svc.maps.answers.get(now.chat.id, answer.message_id)
        message_id = answer.message_id
    else:
        found = now.svc.maps.answers.latest(now.chat.id, asker)
        message_id, held = found if found else (0, None)
    if held is None:
        await reply(now.message, replies.where_gone(now.t))
    elif not now.svc.maps.may_show(held, asker, private):
        await reply(now.message, replies.where_not_yours(now.t))
    else:
        refusal = await _show(now.svc, update, now.chat.id, held, now.t, message_id, topic_of(now.message))
        if refusal is not None:
            await reply(now.message, refusal)


async def where_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "Where?" button: the map of the answer it sits under, quoting that answer."""
    if (now := await press(update, context)) is None:
        return
    query, chat, svc, t = now.query, now.chat, now.svc, now.t
    if query.message is None:
        return
    held = svc.maps.answers.get(chat.id, query.message.message_id)
    if held is None:
        await query.answer(replies.where_gone(t), show_alert=True)
        return
    if not svc.maps.may_show(held, query.from_user.id, chat.type == Chat.PRIVATE):
        await query.answer(replies.where_not_yours(t), show_alert=True)
        return
    await query.answer()
    message = query.message
    thread = topic_of(message) if isinstance(message, Message) else 0
    refusal = await _show(svc, update, chat.id, held, t, message.message_id, thread)
    if refusal is not None:
        await context.bot.send_message(chat.id, refusal, parse_mode=ParseMode.HTML, message_thread_id=thread or None)


async def _show(svc: Services, update: Update, chat_id: int, held: HeldAnswer[Picture], t: Speaker,
                answer_id: int, topic: int) -> str | None:
    """Send the map quoting the answer; the sentence to say instead when it cannot be drawn."""
    verdict = svc.rate_limit.check(sender_of(update))  # a map costs a picture's pass through the model
    if verdict is not Verdict.ALLOW:
        return replies.rate_limited(t) if verdict is Verdict.WARN else None
    try:
        await svc.maps.send(chat_id, held, t, answer_id, topic or None)
    except ImageError as exc:
        return replies.explained(t, exc)
    except PictureTooLarge as exc:
        return replies.too_large(t, int(exc.args[0]), svc.maps.max_bytes)
    except MapUnsupported:
        return replies.where_unsupported(t)
    except WorkerBusy:
        return replies.busy(t)
    except WorkerStopped:
        return replies.stopping(t)
    except Forbidden:
        return None  # bot/transport/delivery.py logged it and marked the chat
    except TelegramError as exc:
        logger.warning("Could not download a picture again for its map in chat %s: %s", chat_id, exc)
        return replies.download_failed(t)
    return None
