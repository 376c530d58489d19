"""Forgetting on request: /forget deletes what the bot keeps about a chat, /forget me (in a private
chat) a player's name, votes and points everywhere; both ask first, with a button. /privacy says what
is kept, for how long, who sees it and how to delete it."""

from __future__ import annotations

from dataclasses import asdict

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.conversation.permissions import may_change_chat
from bot.conversation.services import services
from bot.conversation.turn import command_argument, reply, turn
from bot.words import replies, screens
from bot.words.i18n import Speaker

FORGET_PREFIX = "f"  # callback data: "f:chat", "f:me" (delete) or "f:keep"
CHAT, ME, KEEP = "chat", "me", "keep"


def confirmation(what: str, t: Speaker) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[
        InlineKeyboardButton(replies.forget_button(t), callback_data=f"{FORGET_PREFIX}:{what}"),
        InlineKeyboardButton(replies.keep_button(t), callback_data=f"{FORGET_PREFIX}:{KEEP}"),
    ]])


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Ask before deleting this chat's data: /forget; or, in a private chat, the sender's own: /forget me."""
    if (now := await turn(update, context)) is None:
        return
    argument = command_argument(now.message.text).lower()
    private = now.chat.type == Chat.PRIVATE
    if argument == ME:
        if not private:
            await reply(now.message, replies.forget_me_in_private(now.t))
            return
        await reply(now.message, replies.forget_me_question(now.t), reply_markup=confirmation(ME, now.t))
    elif argument:
        await reply(now.message, replies.forget_usage(now.t))
    elif not await may_change_chat(update, context):
        await reply(now.message, replies.admins_only_forget(now.t))
    else:
        await reply(now.message, replies.forget_chat_question(now.t), reply_markup=confirmation(CHAT, now.t))


async def forget_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The answer to /forget's question: delete (checked again: admins only in groups) or keep."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    svc = services(context)
    t = await svc.speaker_for(update)
    chat = query.message.chat
    what = (query.data or "").partition(":")[2]
    # The question becomes the answer (its buttons go), then the press is answered.
    if what == KEEP:
        await query.edit_message_text(replies.nothing_forgotten(t))
        await query.answer()
    elif what == CHAT and await may_change_chat(update, context):
        forgotten = await svc.chats.forget(chat.id)
        svc.maps.answers.forget_chat(chat.id)  # what "Where?" held in memory
        await query.edit_message_text(replies.chat_forgotten(t, **asdict(forgotten)), parse_mode=ParseMode.HTML)
        await query.answer()
    elif what == ME and chat.type == Chat.PRIVATE:
        player = await svc.chats.forget_player(query.from_user.id)
        await svc.chats.forget(chat.id)  # this private chat's labels and language are the player's too
        svc.maps.answers.forget_asker(query.from_user.id)
        await query.edit_message_text(replies.player_forgotten(t, **asdict(player)), parse_mode=ParseMode.HTML)
        await query.answer()
    elif what == CHAT:
        await query.answer(replies.admins_only_forget(t))
    else:
        await query.answer(replies.button_invalid(t))


async def privacy(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """What the bot keeps, for how long, who sees it, how to delete it: /privacy."""
    if (now := await turn(update, context)) is not None:
        await reply(now.message, screens.privacy(now.t, now.svc.settings.forget_after_days,
                                                 round(now.svc.settings.rounds_keep_days)))
