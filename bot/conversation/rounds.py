"""Game rounds while they run: their timers, the vote-count edits and the reveal.

Rounds themselves live in the database (bot/state/storage.py), one open round per chat and forum topic;
this keeps what only a running bot has: the tasks that end a round on time and show its vote count,
the language it was started in, and which Telegram file its picture is (never the picture), so the
reveal can show where the AI looked; the files of its picture (Telegram's file_unique_id) are
classified nowhere else while it runs: otherwise the picture forwarded to the bot would give the
answer away. Open rounds do not outlive the bot (recover() ends them at start), so neither do these.
Nothing is sent to a chat that blocked or removed the bot.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bot.conversation.maps import Maps, where_keyboard
from bot.state.lifecycle import ChatLife
from bot.state.options import ChatOption, ChatOptions
from bot.state.storage import Round, Storage
from bot.transport.delivery import may_have_arrived
from bot.transport.pictures import Picture, file_ids
from bot.words import replies
from bot.words.i18n import DEFAULT_LANGUAGE, Speaker, speaker
from classifier import Prediction

logger = logging.getLogger(__name__)

CALLBACK_PREFIX = "g"  # callback data: "g:<round id>:<option index>", at most ~25 bytes for any label
MAX_CHOICES = 4
# Vote counts are shown at most this often per round: Telegram allows a group about 20 messages a
# minute, and a burst of presses must not queue edits in front of the reveal.
COUNT_EDIT_SECONDS = 2.0


def choose_options(prediction: Prediction, labels: tuple[str, ...], rng: random.Random) -> tuple[list[str], int]:
    """The model's top label plus up to three others, shuffled; returns (options, index of the answer)."""
    others = [label for label in labels if label != prediction.label]
    options = [prediction.label, *rng.sample(others, min(len(others), MAX_CHOICES - 1))]
    rng.shuffle(options)
    return options, options.index(prediction.label)


def callback_data(round_id: int, option: int) -> str:
    return f"{CALLBACK_PREFIX}:{round_id}:{option}"


def parse_callback(data: str | None) -> tuple[int, int] | None:
    """(round id, option) from callback data, or None when it is not ours or malformed."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[1]), int(parts[2])


def keyboard(round_id: int, options: tuple[str, ...] | list[str], t: Speaker) -> InlineKeyboardMarkup:
    """The answer buttons, labelled with the options' display names in the chat's language."""
    buttons = [InlineKeyboardButton(replies.label_name(t, label), callback_data=callback_data(round_id, i))
               for i, label in enumerate(options)]
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)])


def topic_of(message: Message) -> int:
    """The forum topic a message was sent in, whose round it plays; 0 outside topics."""
    return message.message_thread_id or 0 if message.is_topic_message else 0


def seconds_left(open_round: Round) -> int:
    return max(0, round(open_round.ends_at - time.time()))


class Games:
    """Owns the round timers and the edits of round messages; rounds themselves live in the database."""

    def __init__(self, storage: Storage, bot: Bot, round_seconds: float, chats: ChatLife, maps: Maps,
                 options: ChatOptions) -> None:
        self.storage = storage
        self.bot = bot
        self.chats = chats
        self.maps = maps
        self.options = options
        self._held: dict[int, tuple[Picture, tuple[str, ...]]] = {}  # round -> its file and labels
        self._map_tasks: set[asyncio.Task[None]] = set()
        self.round_seconds = round_seconds
        self.rng = random.Random()
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._speakers: dict[int, Speaker] = {}  # round -> the language it was started in
        self._count_edits: dict[int, asyncio.Task[None]] = {}
        # Held while a round's message is edited, so a late vote count never lands after the reveal.
        self._message_locks: dict[int, asyncio.Lock] = {}
        self._pictures: dict[int, frozenset[str]] = {}  # open round -> its picture's file_unique_ids
        self._in_play: Counter[str] = Counter()  # file_unique_id -> open rounds playing it

    def playing(self, round_id: int, picture: Message) -> None:
        """The round plays this message's picture: it is classified nowhere else until the round ends."""
        ids = file_ids(picture)
        self._pictures[round_id] = ids
        self._in_play.update(ids)

    def in_play(self, message: Message) -> bool:
        """Whether the message's picture is that of an open round (forwarded, or sent again)."""
        return any(self._in_play[file_id] > 0 for file_id in file_ids(message))

    def _lock(self, round_id: int) -> asyncio.Lock:
        return self._message_locks.setdefault(round_id, asyncio.Lock())

    def votes_changed(self, round_id: int) -> None:
        """Show the new vote count soon, once for any number of presses in between."""
        if round_id not in self._count_edits:
            task = asyncio.get_running_loop().create_task(self._show_count(round_id), name=f"count-{round_id}")
            self._count_edits[round_id] = task

    async def _show_count(self, round_id: int) -> None:
        await asyncio.sleep(COUNT_EDIT_SECONDS)
        self._count_edits.pop(round_id, None)
        async with self._lock(round_id):
            current = await self.storage.get_round(round_id)
            if (current is None or current.closed or current.message_id is None
                    or not self.chats.reachable(current.chat_id)):
                return
            count = await self.storage.vote_count(round_id)
            t = self._speakers.get(round_id, speaker(DEFAULT_LANGUAGE))
            try:
                await self.bot.edit_message_text(replies.round_question(t, count), chat_id=current.chat_id,
                                                 message_id=current.message_id,
                                                 reply_markup=keyboard(round_id, current.options, t))
            except TelegramError as exc:  # "message is not modified", or deleted: harmless
                logger.debug("Vote count of round %d not shown: %s", round_id, exc)

    def hold_picture(self, round_id: int, picture: Picture, labels: tuple[str, ...]) -> None:
        """Remember the round's file and labels until its reveal, for the map of where the AI looked."""
        self._held[round_id] = (picture, labels)

    def schedule_end(self, round_id: int, delay: float, t: Speaker) -> None:
        """End the round after delay seconds; t is the language it was started in."""
        self._speakers[round_id] = t

        async def later() -> None:
            await asyncio.sleep(delay)
            self._timers.pop(round_id, None)
            await self.end(round_id)

        self._timers[round_id] = asyncio.get_running_loop().create_task(later(), name=f"round-{round_id}")

    async def end(self, round_id: int, restarted: bool = False) -> bool:
        """End the round if it is still open: award points, reveal, remove the buttons."""
        for pending in (self._timers.pop(round_id, None), self._count_edits.pop(round_id, None)):
            if pending is not None and pending is not asyncio.current_task():
                pending.cancel()
        self._in_play -= Counter(self._pictures.pop(round_id, frozenset()))  # before the reveal can be read
        closed = await self.storage.close_round(round_id)
        if closed is None:
            return False
        ended, votes = closed
        t = self._speakers.pop(round_id, None) or speaker(
            await self.storage.get_language(ended.chat_id) or DEFAULT_LANGUAGE)
        text = replies.reveal(t, ended.options[ended.answer], ended.probability,
                              [v.name for v in votes if v.option == ended.answer], len(votes), restarted)
        picture = self._held.pop(round_id, None)
        if self.chats.reachable(ended.chat_id):
            async with self._lock(round_id):
                revealed = await self._reveal(ended, text, where_keyboard(t) if picture else None)
            if revealed is not None and picture is not None:
                self._after_reveal(ended, revealed, picture, t)
        else:
            logger.debug("Round %d ended in chat %d, which cannot be reached; not revealed", ended.id, ended.chat_id)
        self._message_locks.pop(round_id, None)
        return True

    async def _reveal(self, ended: Round, text: str, markup: InlineKeyboardMarkup | None) -> tuple[int, int] | None:
        """Edit the round's message into the reveal; when it cannot be edited (deleted, or left behind in a
        group that became a supergroup), send the reveal anew, into the round's topic. Returns the
        reveal's (chat id, message id), or None when it may not have arrived."""
        chat_id = ended.chat_id
        try:
            if ended.message_id is not None:
                try:
                    await self.bot.edit_message_text(text, chat_id=chat_id, message_id=ended.message_id,
                                                     parse_mode=ParseMode.HTML, reply_markup=markup)
                    return chat_id, ended.message_id
                except ChatMigrated as exc:
                    chat_id = exc.new_chat_id
                except BadRequest as exc:
                    logger.debug("Round %d's message cannot be edited (%s); sending the reveal", ended.id, exc)
            sent = await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                               message_thread_id=ended.thread_id or None, reply_markup=markup)
            return chat_id, sent.message_id
        except Forbidden:
            pass  # bot/transport/delivery.py logged it and marked the chat
        except TelegramError as exc:
            if may_have_arrived(exc):  # the reveal may be on the players' screens: no traceback, nothing sent again
                logger.warning("The reveal of round %d may not have reached chat %d: %r", ended.id, chat_id, exc)
            else:
                logger.exception("Could not reveal round %d in chat %d", ended.id, chat_id)
        return None

    def _after_reveal(self, ended: Round, revealed: tuple[int, int], picture: tuple[Picture, tuple[str, ...]],
                      t: Speaker) -> None:
        """After the reveal is out: any member may now ask where the AI looked, and unless the chat
        turned it off the map follows at once, in a task of its own, so the reveal never waits for it."""
        chat_id, message_id = revealed
        file, labels = picture
        self.maps.answers.hold(chat_id, message_id, file, labels, ended.options[ended.answer], 0, anyone=True)
        task = asyncio.get_running_loop().create_task(self._show_map(ended, chat_id, message_id, t),
                                                      name=f"reveal-map-{ended.id}")
        self._map_tasks.add(task)
        task.add_done_callback(self._map_tasks.discard)

    async def _show_map(self, ended: Round, chat_id: int, message_id: int, t: Speaker) -> None:
        """The map of the AI's answer under the reveal; a failure is logged, never apologised for."""
        try:
            held = self.maps.answers.get(chat_id, message_id)
            if held is None or not await self.options.enabled(chat_id, ChatOption.REVEAL_MAP):
                return
            await self.maps.send(chat_id, held, t, message_id, ended.thread_id or None)
        except asyncio.CancelledError:
            raise
        except Exception:  # the reveal is out; the map is a bonus
            logger.warning("The map of round %d's reveal was not sent", ended.id, exc_info=True)

    async def recover(self) -> None:
        """End the rounds that were open when the bot stopped, so none is left hanging."""
        for stale in await self.storage.open_rounds():
            try:
                await self.end(stale.id, restarted=True)
            except TelegramError:
                logger.exception("Could not end round %d after a restart", stale.id)

    async def stop(self) -> None:
        """Cancel the timers; open rounds stay open in the database and end at the next start."""
        timers = [*self._timers.values(), *self._count_edits.values(), *self._map_tasks]
        self._timers.clear()
        self._count_edits.clear()
        self._map_tasks.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
