"""The group guessing game: who can tell what the AI will see? CLIP is the judge."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from html import escape

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import ContextTypes

from bot import replies
from bot.handlers import addressed_to_another_bot, recognise, reply
from bot.i18n import Speaker, language_of, speaker
from bot.pictures import has_picture
from bot.services import services
from bot.storage import Round, Storage, Vote
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


def keyboard(round_id: int, options: tuple[str, ...] | list[str], t: Speaker) -> InlineKeyboardMarkup:
    """The answer buttons, labelled with the options' display names in the chat's language."""
    buttons = [InlineKeyboardButton(replies.label_name(t, label), callback_data=f"{CALLBACK_PREFIX}:{round_id}:{i}")
               for i, label in enumerate(options)]
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, len(buttons), 2)])


def round_text(votes: int, t: Speaker) -> str:
    return t("Which animal does the AI see?") + "\n" + t.plural("Votes: {n}", "Votes: {n}", votes)


def reveal_text(ended: Round, votes: list[Vote], t: Speaker, restarted: bool = False) -> str:
    answer = escape(replies.label_name(t, ended.options[ended.answer]))
    winners = [escape(v.name) for v in votes if v.option == ended.answer]
    lines = [t("The AI saw: <b>{answer}</b> ({probability}).", answer=answer,
               probability=t.percent(ended.probability))]
    if winners:
        lines.append(t.plural("Right: {names} — one point each.", "Right: {names} — one point each.", len(winners),
                              names=", ".join(winners)))
    elif votes:
        lines.append(t("Nobody got it right."))
    else:
        lines.append(t("Nobody voted."))
    if restarted:
        lines.append(t("(This round was cut short by a restart of the bot.)"))
    return "\n".join(lines)


def seconds_left(open_round: Round) -> int:
    return max(0, round(open_round.ends_at - time.time()))


class Games:
    """Owns the round timers; rounds themselves live in the database."""

    def __init__(self, storage: Storage, bot: Bot, round_seconds: float) -> None:
        self.storage = storage
        self.bot = bot
        self.round_seconds = round_seconds
        self.rng = random.Random()
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._speakers: dict[int, Speaker] = {}  # round -> the language it was started in
        self._count_edits: dict[int, asyncio.Task[None]] = {}
        # Held while a round's message is edited, so a late vote count never lands after the reveal.
        self._message_locks: dict[int, asyncio.Lock] = {}

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
            if current is None or current.closed or current.message_id is None:
                return
            count = await self.storage.vote_count(round_id)
            t = self._speakers.get(round_id, speaker("en"))
            try:
                await self.bot.edit_message_text(round_text(count, t), chat_id=current.chat_id,
                                                 message_id=current.message_id,
                                                 reply_markup=keyboard(round_id, current.options, t))
            except TelegramError as exc:  # "message is not modified", or deleted: harmless
                logger.debug("Vote count of round %d not shown: %s", round_id, exc)

    def schedule_end(self, round_id: int, delay: float, t: Speaker) -> None:
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
        closed = await self.storage.close_round(round_id)
        if closed is None:
            return False
        ended, votes = closed
        t = self._speakers.pop(round_id, None) or speaker(await self.storage.get_language(ended.chat_id) or "en")
        text = reveal_text(ended, votes, t, restarted)
        async with self._lock(round_id):
            try:
                if ended.message_id is None:
                    raise BadRequest("no round message")
                await self.bot.edit_message_text(text, chat_id=ended.chat_id, message_id=ended.message_id,
                                                 parse_mode="HTML")
            except BadRequest:
                await self.bot.send_message(ended.chat_id, text, parse_mode="HTML")
            except TelegramError:
                logger.exception("Could not reveal round %d in chat %d", ended.id, ended.chat_id)
        self._message_locks.pop(round_id, None)
        return True

    async def recover(self) -> None:
        """End the rounds that were open when the bot stopped, so none is left hanging."""
        for stale in await self.storage.open_rounds():
            try:
                await self.end(stale.id, restarted=True)
            except TelegramError:
                logger.exception("Could not end round %d after a restart", stale.id)

    async def stop(self) -> None:
        """Cancel the timers; open rounds stay open in the database and end at the next start."""
        timers = [*self._timers.values(), *self._count_edits.values()]
        self._timers.clear()
        self._count_edits.clear()
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)


async def game(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a round on the picture this command replies to or captions: /game."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    t = await svc.speaker_for(update)
    if message.caption is not None:
        if addressed_to_another_bot(message.caption, context.bot.username):
            return
        source = message
    elif has_picture(message.reply_to_message):
        source = message.reply_to_message  # type: ignore[assignment]
    else:
        await reply(message, t("Reply to a photo, sticker or image file with /game, or send a photo with /game "
                               "as its caption."))
        return
    games: Games = svc.games
    running = await svc.storage.open_round_in(chat.id)
    if running is not None:
        await reply(message, t("A round is already running: {seconds} s left.", seconds=seconds_left(running)))
        return
    labels = await svc.labels_for(chat.id)
    prediction = await recognise(update, context, source, labels, t)
    if prediction is None:
        return
    options, answer = choose_options(prediction, labels, games.rng)
    starter = update.effective_user.id if update.effective_user else 0
    round_id = await svc.storage.open_round(chat.id, starter, tuple(options), answer, prediction.probability,
                                            time.time() + games.round_seconds)
    if round_id is None:  # another /game won the race
        running = await svc.storage.open_round_in(chat.id)
        left = seconds_left(running) if running else 0
        await reply(message, t("A round is already running: {seconds} s left.", seconds=left))
        return
    games.schedule_end(round_id, games.round_seconds, t)  # ends even if the question below is lost
    sent = await reply(source, round_text(0, t), reply_markup=keyboard(round_id, options, t))
    await svc.storage.set_round_message(round_id, sent.message_id)


def parse_callback(data: str | None) -> tuple[int, int] | None:
    """(round id, option) from callback data, or None when it is not ours or malformed."""
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return int(parts[1]), int(parts[2])


async def vote(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button press: check everything on the server side, record one vote, answer every press."""
    query = update.callback_query
    if query is None:
        return
    svc = services(context)
    t = await svc.speaker_for(update)
    parsed = parse_callback(query.data)
    chat_id = query.message.chat.id if query.message else None
    found = await svc.storage.get_round(parsed[0]) if parsed else None
    if parsed is None or found is None or found.chat_id != chat_id or not 0 <= parsed[1] < len(found.options):
        await query.answer(t("This button is not valid."))
        return
    option = parsed[1]
    outcome = await svc.storage.vote(found.id, query.from_user.id, query.from_user.full_name, option, time.time())
    if outcome == "closed":
        await query.answer(t("This round is over."))
        return
    if outcome == "already":
        await query.answer(t("You already voted."))
        return
    await query.answer(t("You picked {label}", label=replies.label_name(t, found.options[option])))
    svc.games.votes_changed(found.id)


async def reveal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """End the chat's round now; only the player who started it may: /reveal."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    t = await svc.speaker_for(update)
    running = await svc.storage.open_round_in(chat.id)
    if running is None:
        await reply(message, t("No round is running. Start one with /game."))
        return
    if update.effective_user is None or update.effective_user.id != running.starter_id:
        await reply(message, t("Only the player who started the round can reveal it."))
        return
    await svc.games.end(running.id)


async def top(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The chat's leaderboard, top 10: /top."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    svc = services(context)
    t = await svc.speaker_for(update)
    board = await svc.storage.leaderboard(chat.id)
    if not board:
        await reply(message, t("No points yet: start a round with /game."))
        return
    lines = [t("<b>Leaderboard</b>")]
    lines += [f"{i}. {escape(name)} — {points}" for i, (name, points) in enumerate(board, start=1)]
    await reply(message, "\n".join(lines))


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other button press (forged or from an old version): answer it, change nothing."""
    if update.callback_query is not None:
        user = update.effective_user
        await update.callback_query.answer(
            speaker(language_of(user.language_code if user else None))("This button is not valid."))
