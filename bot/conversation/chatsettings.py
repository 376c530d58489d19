"""/settings: a chat's switches as buttons; a press turns one on or off (admins only in groups)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from bot.conversation.permissions import may_change_chat
from bot.conversation.turn import press, reply, turn
from bot.state.options import ChatOption
from bot.words import replies
from bot.words.i18n import Speaker

SETTINGS_PREFIX = "o"  # callback data: "o:open_set"


def keyboard(t: Speaker, options: dict[ChatOption, bool]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(replies.option_button(t, option.value, enabled),
                                                       callback_data=f"{SETTINGS_PREFIX}:{option.value}")]
                                 for option, enabled in options.items()])


async def settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the chat's switches, each a button: /settings."""
    if (now := await turn(update, context)) is None:
        return
    options = await now.svc.options.all(now.chat.id)
    await reply(now.message, replies.settings_text(now.t), reply_markup=keyboard(now.t, options))


async def settings_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A switch pressed: turned the other way when the presser may change the chat."""
    if (now := await press(update, context)) is None:
        return
    query, chat, svc, t = now.query, now.chat, now.svc, now.t
    assert query.data is not None
    try:
        option = ChatOption(query.data.partition(":")[2])
    except ValueError:  # an old or forged button
        await query.answer(replies.button_invalid(t))
        return
    if not await may_change_chat(update, context):
        await query.answer(replies.admins_only_settings(t), show_alert=True)
        return
    enabled = await svc.options.toggle(chat.id, option)  # committed before we say so
    await query.edit_message_text(replies.settings_text(t), parse_mode=ParseMode.HTML,
                                  reply_markup=keyboard(t, await svc.options.all(chat.id)))
    await query.answer(replies.option_switched(t, enabled))
