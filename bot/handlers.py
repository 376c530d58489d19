"""Telegram handlers: parse the update, call the classifier, reply. No model work happens here."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Chat, ChatMember, Message, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import replies
from bot.delivery import may_have_arrived, send
from bot.i18n import LANGUAGES, Speaker, language_of, speaker
from bot.labelscript import mostly_not_english
from bot.pictures import NoPicture, PictureTooLarge, download, find_picture, has_picture
from bot.ratelimit import Verdict
from bot.services import Services, services
from classifier import ImageError, LabelError, Prediction, WorkerBusy, WorkerStopped, parse_labels

logger = logging.getLogger(__name__)

RESET_WORDS = frozenset({"reset", "default"})


def command_argument(text: str | None) -> str:
    """What follows the command word: '/labels@bot cat, dog' -> 'cat, dog' (newlines kept)."""
    if not text:
        return ""
    parts = text.split(maxsplit=1)
    return parts[1].strip() if len(parts) == 2 else ""


def addressed_to_another_bot(text: str, username: str | None) -> bool:
    """'/classify@OtherBot' in a caption is not for us."""
    words = text.split(maxsplit=1)
    command = words[0] if words else ""
    if "@" not in command:
        return False
    return command.split("@", 1)[1].lower() != (username or "").lower()


def is_label_list(caption: str) -> bool:
    return "," in caption or "\n" in caption.strip()


async def reply(message: Message, text: str, **options: Any) -> Message:
    """Answer message, quoting it; sent once more only when the first try certainly never left."""
    return await send(lambda: message.reply_text(text, parse_mode=ParseMode.HTML, do_quote=True, **options))


def sender_id(update: Update) -> int:
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    return update.effective_user.id if update.effective_user else 0


async def recognise(update: Update, context: ContextTypes.DEFAULT_TYPE, source: Message,
                    labels: tuple[str, ...] | None, t: Speaker) -> Prediction | None:
    """Download and classify the picture in source; on any refusal, answer why and return None.

    Used by /classify, plain pictures and the game: every answer quotes source.
    """
    svc: Services = services(context)
    verdict = svc.rate_limit.check(sender_id(update))
    if verdict is not Verdict.ALLOW:
        if verdict is Verdict.WARN:
            await reply(source, replies.rate_limited(t))
        return None
    max_bytes = svc.settings.classifier.max_image_bytes
    try:
        picture = find_picture(source, svc.classifier.image_size)
        data = await download(context.bot, picture, max_bytes)
        chosen = labels or await svc.labels_for(source.chat_id)
        return await svc.worker.classify(data, chosen)
    except (NoPicture, ImageError) as exc:
        await reply(source, replies.explained(t, exc))
    except PictureTooLarge as exc:
        await reply(source, replies.too_large(t, int(exc.args[0]), max_bytes))
    except WorkerBusy:
        await reply(source, replies.busy(t))
    except WorkerStopped:
        await reply(source, replies.stopping(t))
    except TelegramError as exc:
        logger.warning("Could not download a picture in chat %s: %s", source.chat_id, exc)
        await reply(source, replies.download_failed(t))
    return None


async def classify_and_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, source: Message,
                              label_text: str) -> None:
    """Classify source against label_text (or the chat's labels when empty) and answer."""
    svc = services(context)
    t = await svc.speaker_for(update)
    labels = None
    if label_text:
        try:
            labels = parse_labels(label_text)
        except LabelError as exc:
            await reply(update.effective_message or source, replies.explained(t, exc))
            return
        await note_english_model(update, context, labels, t)
    result = await recognise(update, context, source, labels, t)
    if result is not None:
        await reply(source, replies.prediction(t, result))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what the bot does and name every command: /start and /help."""
    if update.effective_message:
        t = await services(context).speaker_for(update)
        await reply(update.effective_message, replies.help_text(t))


async def picture(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A picture in a private chat: classify it, with its caption as labels when it is a list."""
    message = update.effective_message
    if message is None:
        return
    caption = message.caption or ""
    await classify_and_answer(update, context, message, caption if is_label_list(caption) else "")


async def classify(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Classify the picture this command replies to, or carries as its caption: /classify [labels]."""
    message = update.effective_message
    if message is None:
        return
    if message.caption is not None:
        if addressed_to_another_bot(message.caption, context.bot.username):
            return
        await classify_and_answer(update, context, message, command_argument(message.caption))
        return
    target = message.reply_to_message
    if not has_picture(target):
        await reply(message, replies.classify_usage(await services(context).speaker_for(update)))
        return
    await classify_and_answer(update, context, target, command_argument(message.text))  # type: ignore[arg-type]


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
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    t = await svc.speaker_for(update)
    argument = command_argument(message.text)
    if not argument:
        own = await svc.storage.get_labels(chat.id)
        await reply(message, replies.labels_shown(t, own or svc.settings.classifier.default_labels, own is None))
        return
    if not await may_change_chat(update, context):
        await reply(message, replies.admins_only(t))
        return
    if argument.lower() in RESET_WORDS:
        await svc.storage.reset_labels(chat.id)
        await reply(message, replies.labels_reset(t, svc.settings.classifier.default_labels))
        return
    try:
        new = parse_labels(argument)
    except LabelError as exc:
        await reply(message, replies.labels_refused(t, exc))
        return
    await svc.storage.set_labels(chat.id, new)  # committed before we say so
    svc.worker.prepare_labels(new)  # encoding starts now; the acknowledgement does not wait for it
    await reply(message, replies.labels_set(t, new))
    await note_english_model(update, context, new, t)


async def note_english_model(update: Update, context: ContextTypes.DEFAULT_TYPE, labels: tuple[str, ...],
                             t: Speaker) -> None:
    """Once per chat: with an English-only model, say that labels mostly not in English are read poorly."""
    svc, chat, message = services(context), update.effective_chat, update.effective_message
    if chat is None or message is None or svc.classifier.clip.multilingual or not mostly_not_english(labels):
        return
    if await svc.storage.first_time(chat.id, "english-model"):
        await reply(message, replies.english_model_note(t, "CLIP_MODEL"))


async def language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show or set the chat's language: /language en, /language ru."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    choice = command_argument(message.text).lower()
    if choice not in LANGUAGES:
        await reply(message, replies.language_usage(await svc.speaker_for(update)))
        return
    if not await may_change_chat(update, context):
        await reply(message, replies.admins_only_language(await svc.speaker_for(update)))
        return
    await svc.storage.set_language(chat.id, choice)  # committed before we say so
    await reply(message, replies.language_set(speaker(choice)))


async def private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other text in a private chat: say what the bot is for."""
    if update.effective_message:
        await reply(update.effective_message, replies.private_hint(await services(context).speaker_for(update)))


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the traceback; tell the user one short sentence, unless a send may have reached them."""
    if context.error is not None and may_have_arrived(context.error):
        # The answer may be on the user's screen already: an apology (or the answer again) would be wrong.
        logger.warning("A request to Telegram failed after it may have been delivered; not apologising: %r",
                       context.error)
        return
    logger.error("Error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        # No database here: whatever broke may be the database. The sender's own language.
        user = update.effective_user
        t = speaker(language_of(user.language_code if user else None))
        try:
            await update.effective_message.reply_text(replies.internal_error(t))
        except TelegramError:
            logger.warning("Could not tell the user about the error")
