"""Telegram handlers: parse the update, hand the picture to recognition (bot/conversation/recognition.py,
which calls the classifier), reply. No model work happens here.

Also the updates that tell of a chat's life (upgrades, the bot removed or blocked; bot/state/lifecycle.py)
and the photos of an album, which follow the album's caption (bot/state/albums.py)."""

from __future__ import annotations

import logging

from telegram import Chat, ChatMember, ChatMemberRestricted, Message, Update
from telegram.error import ChatMigrated, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.conversation.floods import sender_of
from bot.conversation.maps import where_keyboard
from bot.conversation.permissions import may_change_chat
from bot.conversation.recognition import recognise
from bot.conversation.services import services
from bot.conversation.turn import (
    Turn,
    addressed_to_another_bot,
    command_argument,
    command_word,
    picture_command,
    reply,
    turn,
)
from bot.state.chats import Gone
from bot.state.options import ChatOption
from bot.telemetry.metrics import Dropped, Outcome, metrics_of
from bot.telemetry.trace import sending_prediction
from bot.transport.delivery import ReplyTooLate, may_have_arrived
from bot.words import replies, screens
from bot.words.i18n import LANGUAGES, speaker, speaker_of
from bot.words.labelscript import mostly_not_english
from classifier import LabelError, LabelsWaiting, parse_labels

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
    open_set = await now.svc.options.enabled(now.chat.id, ChatOption.OPEN_SET)
    result = await recognise(now.update, context, source, labels, now.t, open_set=open_set)
    if result is not None:
        async with sending_prediction(context):
            sent = await reply(source, replies.prediction(now.t, result.prediction), reply_markup=where_keyboard(now.t))
        now.svc.maps.answers.hold(now.chat.id, sent.message_id, result.picture, result.labels,
                                  result.prediction.label, sender_of(now.update))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what the bot does and name every command: /start and /help."""
    if (now := await turn(update, context)) is not None:
        await reply(now.message, screens.help_text(now.t))


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
    try:  # encoding starts now, in this chat's turns; the acknowledgement does not wait for it
        svc.worker.prepare_labels(new, owner=now.chat.id)
    except LabelsWaiting:
        await reply(now.message, replies.labels_waiting(t))
        return
    await svc.storage.set_labels(now.chat.id, new)  # committed before we say so
    await reply(now.message, replies.labels_set(t, new))
    await note_english_model(now, new)


async def note_english_model(now: Turn, labels: tuple[str, ...]) -> None:
    """Once per chat: with an English-only model, say that labels mostly not in English are read poorly."""
    if now.svc.classifier.clip.multilingual or not mostly_not_english(labels):
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


async def remember_album(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Before anything else: remember an album's caption for the album's other photos."""
    message = update.effective_message
    if message is not None and message.media_group_id and message.caption is not None:
        services(context).albums.captioned(message.chat_id, message.media_group_id, message.caption)


async def album_picture(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo of an album without a caption of its own: it follows the album's caption (labels or /classify;
    /game plays the album's first photo only). Without one, a private chat still gets its answer."""
    if (now := await turn(update, context)) is None or now.message.media_group_id is None:
        return
    caption = await now.svc.albums.caption_of(now.chat.id, now.message.media_group_id)
    private = now.chat.type == Chat.PRIVATE
    if caption is None or not caption.startswith("/"):
        if private:
            await classify_and_answer(now, context, now.message, caption if caption and is_label_list(caption) else "")
        return
    if command_word(caption) == "classify" and not addressed_to_another_bot(caption, context.bot.username):
        await classify_and_answer(now, context, now.message, command_argument(caption))


async def seen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Before anything else: someone wrote or pressed a button in a chat, so it is reachable again."""
    chat = update.effective_chat
    if chat is not None and update.my_chat_member is None and not services(context).chats.reachable(chat.id):
        await services(context).chats.back(chat.id)


async def migrated(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A group became a supergroup: its data moves along, on whichever of the two service messages comes first."""
    message = update.effective_message
    if message is None:
        return
    if message.migrate_to_chat_id:
        await services(context).chats.moved(message.chat_id, message.migrate_to_chat_id)
    elif message.migrate_from_chat_id:
        await services(context).chats.moved(message.migrate_from_chat_id, message.chat_id)


async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot was added to a chat, removed, blocked or muted (my_chat_member)."""
    change = update.my_chat_member
    if change is None:
        return
    chats, member, chat = services(context).chats, change.new_chat_member, change.chat
    if member.status in (ChatMember.LEFT, ChatMember.BANNED) or (
            isinstance(member, ChatMemberRestricted) and not member.is_member):
        await chats.gone(chat.id, Gone.BLOCKED if chat.type == Chat.PRIVATE else Gone.REMOVED)
    elif isinstance(member, ChatMemberRestricted) and not member.can_send_messages:
        await chats.gone(chat.id, Gone.MUTED)
    else:
        await chats.back(chat.id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the traceback; tell the user one short sentence, unless a send may have reached them or
    Telegram refuses to deliver there."""
    if isinstance(context.error, Forbidden):
        # Blocked, removed or muted: an answer, not a bug; bot/transport/delivery.py logged it and marked the chat.
        # The update was not answered, though: that counts, with no apology.
        if isinstance(update, Update) and update.effective_message is not None:
            metrics_of(context).answered(Outcome.ERROR)
        return
    if isinstance(context.error, ReplyTooLate):  # minutes late is worse than never: counted, and that is all
        metrics_of(context).dropped_one(Dropped.TOO_LATE)
        logger.info("An answer in chat %s was dropped: %s",
                    update.effective_chat.id if isinstance(update, Update) and update.effective_chat else "?",
                    context.error)
        return
    if isinstance(context.error, ChatMigrated):  # an edit in a group that became a supergroup; its data moved
        logger.info("A request named a message of chat %s, now a supergroup: %s",
                    update.effective_chat.id if isinstance(update, Update) and update.effective_chat else "?",
                    context.error)
        return
    if context.error is not None and may_have_arrived(context.error):
        # The answer may be on the user's screen already: an apology (or the answer again) would be wrong.
        logger.warning("A request to Telegram failed after it may have been delivered; not apologising: %r",
                       context.error)
        return
    logger.error("Error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        metrics_of(context).answered(Outcome.ERROR)
        # No database here: whatever broke may be the database. The sender's own language.
        t = speaker_of(update.effective_user)
        try:
            await update.effective_message.reply_text(replies.internal_error(t))
        except TelegramError:
            logger.warning("Could not tell the user about the error")
