"""The guessing game's commands: who can tell what the AI will see? CLIP is the judge.

Rounds are kept running by bot/conversation/rounds.py; these handlers start them, take votes and show scores.
"""

from __future__ import annotations

import time

from telegram import Update
from telegram.ext import ContextTypes

from bot.conversation.floods import sender_of
from bot.conversation.permissions import may_change_chat
from bot.conversation.recognition import recognise
from bot.conversation.rounds import choose_options, keyboard, parse_callback, seconds_left, topic_of
from bot.conversation.services import services
from bot.conversation.turn import picture_command, reply, turn
from bot.state.storage import VoteOutcome
from bot.telemetry.trace import sending_prediction
from bot.words import replies
from bot.words.i18n import speaker_of


async def game(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Start a round on the picture this command replies to or captions: /game. One round per forum topic."""
    if (found := await picture_command(update, context, replies.game_usage)) is None:
        return
    now, target = found
    games, storage, topic = now.svc.games, now.svc.storage, topic_of(now.message)
    running = await storage.open_round_in(now.chat.id, topic)
    if running is not None:
        await reply(now.message, replies.round_running(now.t, seconds_left(running)))
        return
    labels = await now.svc.labels_for(now.chat.id)
    recognised = await recognise(update, context, target.source, labels, now.t)
    if recognised is None:
        return
    prediction = recognised.prediction
    options, answer = choose_options(prediction, labels, games.rng)
    # The real starter: an anonymous admin or a channel by the chat it posts as, not the id they all share.
    round_id = await storage.open_round(now.chat.id, topic, sender_of(update), tuple(options), answer,
                                        prediction.probability, time.time() + games.round_seconds)
    if round_id is None:  # another /game won the race
        running = await storage.open_round_in(now.chat.id, topic)
        await reply(now.message, replies.round_running(now.t, seconds_left(running) if running else 0))
        return
    games.playing(round_id, target.source)  # classified nowhere else until the reveal
    games.hold_picture(round_id, recognised.picture, recognised.labels)  # for the reveal's map, until it ends
    games.schedule_end(round_id, games.round_seconds, now.t)  # ends even if the question below is lost
    async with sending_prediction(context):
        sent = await reply(target.source, replies.round_question(now.t, 0),
                           reply_markup=keyboard(round_id, options, now.t))
    await storage.set_round_message(round_id, sent.message_id)


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
        await query.answer(replies.button_invalid(t))
        return
    option = parsed[1]
    outcome = await svc.storage.vote(found.id, query.from_user.id, query.from_user.full_name, option, time.time())
    if outcome is VoteOutcome.CLOSED:
        await query.answer(replies.round_over(t))
    elif outcome is VoteOutcome.ALREADY:
        await query.answer(replies.already_voted(t))
    else:
        await query.answer(replies.vote_taken(t, found.options[option]))
        svc.games.votes_changed(found.id)


async def reveal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """End the round of this chat or topic now; only the player who started it (whatever id they share with
    other anonymous posters) or the chat's administrators may: /reveal."""
    if (now := await turn(update, context)) is None:
        return
    running = await now.svc.storage.open_round_in(now.chat.id, topic_of(now.message))
    if running is None:
        await reply(now.message, replies.no_round(now.t))
        return
    if sender_of(update) != running.starter_id and not await may_change_chat(update, context):
        await reply(now.message, replies.starter_only(now.t))
        return
    await now.svc.games.end(running.id)


async def top(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The chat's leaderboard, top 10: /top."""
    if (now := await turn(update, context)) is None:
        return
    await reply(now.message, replies.leaderboard(now.t, await now.svc.storage.leaderboard(now.chat.id)))


async def unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Any other button press (forged or from an old version): answer it, change nothing."""
    if update.callback_query is not None:
        await update.callback_query.answer(replies.button_invalid(speaker_of(update.effective_user)))
