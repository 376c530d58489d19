"""Telegram handlers: parse the update, call the classifier, reply. No model work happens here."""

from __future__ import annotations

import logging
import unicodedata

from telegram import Chat, ChatMember, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import replies
from bot.delivery import may_have_arrived
from bot.i18n import LANGUAGES, language_of, speaker
from bot.ops.metrics import Outcome, metrics_of
from bot.ops.trace import sending_prediction
from bot.recognition import recognise
from bot.turn import Turn, command_argument, picture_command, reply, turn
from classifier import LabelError, parse_labels

logger = logging.getLogger(__name__)

RESET_WORDS = frozenset({"reset", "default"})
NOTE_ENGLISH_MODEL = "english-model"  # told once per chat: the model reads English (chat_notes)


def is_label_list(caption: str) -> bool:
    return "," in caption or "\n" in caption.strip()


async def classify_and_answer(now: Turn, context: ContextTypes.DEFAULT_TYPE, source: Message,
                              label_text: str) -> None:
    """Classify source against label_text (or the chat's labels when empty) and answer."""
    labels = None
    if label_text:
        try:
            labels = parse_labels(label_text)
        except LabelError as exc:
            await reply(now.message, replies.explained(now.t, exc))
            return
        await note_english_model(now, labels)
    result = await recognise(now.update, context, source, labels, now.t)
    if result is not None:
        async with sending_prediction(context):
            await reply(source, replies.prediction(now.t, result))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what the bot does and name every command: /start and /help."""
    if (now := await turn(update, context)) is not None:
        await reply(now.message, replies.help_text(now.t))


async def picture(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A picture in a private chat: classify it, with its caption as labels when it is a list."""
    if (now := await turn(update, context)) is None:
        return
    caption = now.message.caption or ""
    await classify_and_answer(now, context, now.message, caption if is_label_list(caption) else "")


async def classify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Classify the picture this command replies to, or carries as its caption: /classify [labels]."""
    if (found := await picture_command(update, context, replies.classify_usage)) is None:
        return
    now, target = found
    await classify_and_answer(now, context, target.source, target.label_text)


async def may_change_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the sender may change the chat's labels or language: in groups only admins may,
    checked with getChatMember; anonymous admins post as the group."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or chat.type == Chat.PRIVATE:
        return True
    if message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    if update.effective_user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, update.effective_user.id)
    return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


async def labels(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show, set or reset the chat's label set: /labels, /labels cat, dog, fox, /labels reset."""
    if (now := await turn(update, context)) is None:
        return
    svc, t = now.svc, now.t
    argument = command_argument(now.message.text)
    if not argument:
        own = await svc.storage.get_labels(now.chat.id)
        await reply(now.message, replies.labels_shown(t, own or svc.settings.classifier.default_labels, own is None))
        return
    if not await may_change_chat(update, context):
        await reply(now.message, replies.admins_only(t))
        return
    if argument.lower() in RESET_WORDS:
        await svc.storage.reset_labels(now.chat.id)
        await reply(now.message, replies.labels_reset(t, svc.settings.classifier.default_labels))
        return
    try:
        new = parse_labels(argument)
    except LabelError as exc:
        await reply(now.message, replies.labels_refused(t, exc))
        return
    await svc.storage.set_labels(now.chat.id, new)  # committed before we say so
    svc.worker.prepare_labels(new)  # encoding starts now; the acknowledgement does not wait for it
    await reply(now.message, replies.labels_set(t, new))
    await note_english_model(now, new)


def is_latin(label: str) -> bool:
    """Whether at least half of a label's letters are Latin (a label without letters counts as Latin)."""
    letters = [ch for ch in label if ch.isalpha()]
    latin = sum(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in letters)
    return 2 * latin >= len(letters)


def mostly_non_latin(labels: tuple[str, ...]) -> bool:
    """Whether most labels are written in a script other than Latin (Cyrillic, Greek, CJK, ...)."""
    return 2 * sum(not is_latin(label) for label in labels) > len(labels)


async def note_english_model(now: Turn, labels: tuple[str, ...]) -> None:
    """Once per chat: with an English-only model, say that mostly non-Latin labels are read poorly."""
    if now.svc.classifier.clip.multilingual or not mostly_non_latin(labels):
        return
    if await now.svc.storage.first_time(now.chat.id, NOTE_ENGLISH_MODEL):
        await reply(now.message, replies.english_model_note(now.t, "CLIP_MODEL"))


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show or set the chat's language: /language en, /language ru."""
    if (now := await turn(update, context)) is None:
        return
    choice = command_argument(now.message.text).lower()
    if choice not in LANGUAGES:
        await reply(now.message, replies.language_usage(now.t))
        return
    if not await may_change_chat(update, context):
        await reply(now.message, replies.admins_only_language(now.t))
        return
    await now.svc.storage.set_language(now.chat.id, choice)  # committed before we say so
    await reply(now.message, replies.language_set(speaker(choice)))


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other text in a private chat: say what the bot is for."""
    if (now := await turn(update, context)) is not None:
        await reply(now.message, replies.private_hint(now.t))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the traceback; tell the user one short sentence, unless a send may have reached them."""
    if context.error is not None and may_have_arrived(context.error):
        # The answer may be on the user's screen already: an apology (or the answer again) would be wrong.
        logger.warning("A request to Telegram failed after it may have been delivered; not apologising: %r",
                       context.error)
        return
    logger.error("Error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        metrics_of(context).answered(Outcome.ERROR)
        # No database here: whatever broke may be the database. The sender's own language.
        user = update.effective_user
        t = speaker(language_of(user.language_code if user else None))
        try:
            await update.effective_message.reply_text(replies.internal_error(t))
        except TelegramError:
            logger.warning("Could not tell the user about the error")
