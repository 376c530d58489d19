"""What every handler starts from: the message, its chat, the services and the reader's language;
how a command finds the picture it is about; and the one way to answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.conversation.services import Services, services
from bot.transport.delivery import in_time, send
from bot.transport.pictures import has_picture
from bot.words.i18n import Speaker


@dataclass(frozen=True)
class Turn:
    """One message to answer: where it came from, what the bot has, which language to answer in."""

    update: Update
    message: Message
    chat: Chat
    svc: Services
    t: Speaker


async def turn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Turn | None:
    """The handler's starting point; None for an update without a message and chat (nothing to answer)."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return None
    svc = services(context)
    return Turn(update, message, chat, svc, await svc.speaker_for(update))


@dataclass(frozen=True)
class Press:
    """One button press to answer: the query, its chat, the services and the reader's language."""

    query: CallbackQuery
    chat: Chat
    svc: Services
    t: Speaker


async def press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Press | None:
    """A button handler's starting point; None for a press without a chat or data (nothing to do)."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or query.data is None:
        return None
    svc = services(context)
    return Press(query, chat, svc, await svc.speaker_for(update))


async def reply(message: Message, text: str, **options: Any) -> Message:
    """Answer message, quoting it; sent once more only when the first try certainly never left, and
    never after the update's deadline (ReplyTooLate; bot/transport/delivery.py)."""
    with in_time():
        return await send(lambda: message.reply_text(text, parse_mode=ParseMode.HTML, do_quote=True, **options))


def command_argument(text: str | None) -> str:
    """What follows the command word: '/labels@bot cat, dog' -> 'cat, dog' (newlines kept)."""
    if not text:
        return ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


def _command_parts(text: str | None) -> tuple[str, str | None]:
    """'/Labels@Bot cat' -> ('labels', 'bot'); '/top' -> ('top', None); no command -> ('', None)."""
    words = (text or "").split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return "", None
    command, at, addressee = words[0][1:].partition("@")
    return command.lower(), addressee.lower() if at else None


def command_word(text: str | None) -> str:
    """The command a text starts with, lowercased, without its '/' and '@bot'; '' for no command."""
    return _command_parts(text)[0]


def addressed_to_another_bot(text: str, username: str | None) -> bool:
    """'/classify@OtherBot' in a caption is not for us."""
    addressee = _command_parts(text)[1]
    return addressee is not None and addressee != (username or "").lower()


@dataclass(frozen=True)
class Target:
    """The picture a command is about, and the labels written after the command (may be empty)."""

    source: Message
    label_text: str


def command_target(message: Message) -> Target | None:
    """The picture a command refers to: the message itself when the command is its caption, else
    the picture it replies to; None when there is none."""
    if message.caption is not None:
        return Target(message, command_argument(message.caption))
    if has_picture(message.reply_to_message):
        return Target(message.reply_to_message, command_argument(message.text))  # type: ignore[arg-type]
    return None


async def picture_command(update: Update, context: ContextTypes.DEFAULT_TYPE,
                          usage: Callable[[Speaker], str]) -> tuple[Turn, Target] | None:
    """The turn and the picture of a command about a picture (/classify, /game). Without a picture it
    answers with usage and returns None; a caption command for another bot gets no answer at all."""
    if (now := await turn(update, context)) is None:
        return None
    if now.message.caption is not None and addressed_to_another_bot(now.message.caption, context.bot.username):
        return None
    target = command_target(now.message)
    if target is None:
        await reply(now.message, usage(now.t))
        return None
    return now, target
