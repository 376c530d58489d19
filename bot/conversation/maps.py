"""Where the AI looked: the answers that can still show it (held in memory, bot/state/answers.py),
and the one way to draw one and send it as a photo with its legend.

The picture is never kept: a map downloads it again from Telegram by its file id, the worker draws
the overlay (classifier/batching/worker.py explain), and the JPEG is sent and dropped.
"""

from __future__ import annotations

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.constants import ParseMode

from bot.state.answers import HeldAnswer, HeldAnswers
from bot.transport.delivery import send
from bot.transport.pictures import Picture, download
from bot.words import replies
from bot.words.i18n import Speaker
from classifier import BatchWorker

WHERE_PREFIX = "w"  # callback data of the "Where?" button: the answer is the message the button is on


def where_keyboard(t: Speaker) -> InlineKeyboardMarkup:
    """The "Where?" button under an answer."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(replies.where_button(t), callback_data=WHERE_PREFIX)]])


class Maps:
    """Owns the held answers; draws and sends a map on request."""

    def __init__(self, worker: BatchWorker, bot: Bot, max_bytes: int, answers: HeldAnswers[Picture]) -> None:
        self.worker = worker
        self.bot = bot
        self.max_bytes = max_bytes
        self.answers = answers

    def may_show(self, held: HeldAnswer[Picture], asker: int, private: bool) -> bool:
        """In a private chat anyone (the one person there); in groups whoever asked, or anyone after a reveal."""
        return private or held.anyone or held.asker == asker

    async def send(self, chat_id: int, held: HeldAnswer[Picture], t: Speaker, reply_to: int | None,
                   thread_id: int | None) -> Message:
        """Download the answer's picture again, draw where it looks like the answer's label, send it
        as a photo quoting reply_to (into the forum topic thread_id); raises what the download and
        the worker raise."""
        async def fetch() -> bytes:
            return await download(self.bot, held.picture, self.max_bytes)

        overlay = await self.worker.explain(fetch, held.labels, held.label)
        quoted = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        return await send(lambda: self.bot.send_photo(
            chat_id, overlay.jpeg, caption=replies.where_caption(t, held.label), parse_mode=ParseMode.HTML,
            reply_parameters=quoted, message_thread_id=thread_id))
