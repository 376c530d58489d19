"""Who may change a chat: anyone in a private chat; in groups its administrators only."""

from __future__ import annotations

from telegram import Chat, ChatMember, Update
from telegram.ext import ContextTypes


async def may_change_chat(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the sender (or the presser of a button) may change the chat's labels, language, settings
    or data, or end another's game round: in groups only admins may, checked with getChatMember;
    anonymous admins post as the group."""
    chat, message = update.effective_chat, update.effective_message
    if chat is None or message is None or chat.type == Chat.PRIVATE:
        return True
    if message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    if update.effective_user is None:
        return False
    member = await context.bot.get_chat_member(chat.id, update.effective_user.id)
    return member.status in (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
