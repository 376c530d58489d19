"""Floods, end to end through the fake Bot API: one member cannot silence a group, answers are never
minutes late, one chat's new labels do not slow everyone's, and the game cannot be won without playing."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.conversation.services import SERVICES_KEY
from bot.settings import BotSettings
from bot.telemetry.metrics import METRICS_KEY, Metrics
from tests.conftest import idle, running_bot, sample
from tests.fake_telegram import (
    FakeTelegram,
    as_anonymous_admin,
    as_channel,
    group_chat,
    private_chat,
    user,
)

ANN, BOB, CAT = 701, 702, 703
GROUP = -100777
SLOW_DOWN = "You're sending me messages faster than I can answer; please wait a minute."
IN_GAME = "That picture is in a game right now; wait for the reveal."
COMMANDS = ("/help", "/top", "/labels", "/start", "/privacy")
_presses = itertools.count(1)


def answers_to(fake: FakeTelegram, chat_id: int, message_id: int) -> list[dict[str, Any]]:
    return [m for m in fake.sent(chat_id) if (m.get("reply_parameters") or {}).get("message_id") == message_id]


def replied_to(call: Any) -> int:
    """The message a sendMessage call quoted."""
    return int(json.loads(call.params["reply_parameters"])["message_id"])


def dropped(application: Application, reason: str) -> float:  # type: ignore[type-arg]
    metrics: Metrics = application.bot_data[METRICS_KEY]
    return metrics.sample("toonclip_updates_dropped_total", {"reason": reason})


async def test_a_command_flood_gets_a_bounded_answer_and_others_are_answered_in_time(
        bot: Application, fake: FakeTelegram, samples_dir: Path, patience: float,  # type: ignore[type-arg]
        bot_settings: BotSettings) -> None:
    group = group_chat(GROUP)
    flood = [await fake.push(chat=group, **{"from": user(ANN)}, text=COMMANDS[i % len(COMMANDS)])
             for i in range(300)]
    pushed = time.monotonic()
    bob = await fake.push(chat=group, **{"from": user(BOB)}, caption="/classify",
                          photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    cat = await fake.push(chat=private_chat(CAT), **{"from": user(CAT)},
                          photo=fake.photo([(64, 64, sample(samples_dir, "duck"))]))
    await fake.wait_for(lambda: bool(answers_to(fake, CAT, cat["message_id"])), 5 * patience)
    # Bob's answer comes after the flood's 20 answers and its one note: Telegram's pacing lets 20 messages into a
    # group at once, then one every 3 s (not the machine's speed), so about 6 s, where it took minutes.
    await fake.wait_for(lambda: bool(answers_to(fake, GROUP, bob["message_id"])), 10 + 5 * patience)
    assert time.monotonic() - pushed < 10 + 5 * patience
    await idle(fake, bot)
    flood_ids = {m["message_id"] for m in flood}
    to_ann = [m for m in fake.sent(GROUP) if m["reply_parameters"]["message_id"] in flood_ids]
    assert [m["text"] for m in to_ann].count(SLOW_DOWN) == 1  # told once, however long the flood
    assert len(to_ann) == bot_settings.updates_per_minute_per_user + 1
    assert dropped(bot, "rate_limited") == 300 - bot_settings.updates_per_minute_per_user
    dates = {m["message_id"]: m["date"] for m in [*flood, bob]}
    for call in fake.methods("sendMessage"):  # none minutes late: each within its bound of its update
        if int(call.params["chat_id"]) == GROUP:
            assert call.wall - dates[replied_to(call)] <= bot_settings.reply_max_age_seconds + 1


async def test_an_answer_whose_turn_comes_too_late_is_dropped_and_counted(
        bot_settings: BotSettings, fake: FakeTelegram) -> None:
    settings = replace(bot_settings, updates_per_minute_per_user=0, updates_per_minute_per_chat=0,
                       reply_max_age_seconds=3)
    group = group_chat(GROUP)
    async with running_bot(settings) as application:
        old = await fake.push(chat=group, **{"from": user(BOB)}, text="/help", date=int(time.time()) - 120)
        # Thirty members at once: Telegram's pacing sends 20 at once, then one every 3 s; the rest would be late.
        messages = [await fake.push(chat=group, **{"from": user(1000 + i)}, text="/help") for i in range(30)]
        await idle(fake, application)
        sent = fake.methods("sendMessage")
        assert 15 <= len(sent) <= 22
        assert not answers_to(fake, GROUP, old["message_id"])  # too old to be handled at all
        assert dropped(application, "too_late") == 1 + len(messages) - len(sent)
        dates = {m["message_id"]: m["date"] for m in messages}
        for call in sent:
            assert call.wall - dates[replied_to(call)] <= 3 + 1


async def test_button_presses_count_and_are_told_once(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                      bot_settings: BotSettings) -> None:
    ids = []
    for _ in range(40):
        ids.append(f"q{next(_presses)}")
        await fake.push_update({"callback_query": {
            "id": ids[-1], "from": user(BOB), "chat_instance": "ci", "data": "g:1:0",
            "message": {"message_id": 5, "date": int(time.time()), "chat": private_chat(BOB), "text": "?"}}})
    await idle(fake, bot)
    answers = [c.params.get("text") for c in fake.methods("answerCallbackQuery")]
    assert len(answers) == bot_settings.updates_per_minute_per_user + 1  # the rest are dropped unanswered
    assert answers.count(SLOW_DOWN) == 1


async def test_a_user_posting_as_two_channels_is_limited_once_and_channels_apart(
        bot: Application, fake: FakeTelegram, bot_settings: BotSettings) -> None:  # type: ignore[type-arg]
    group = group_chat(GROUP)
    limit = bot_settings.updates_per_minute_per_user
    # A user whose messages name them (from) counts as that user, whatever chat they post as.
    for i in range(limit + 5):
        channel = {"id": -1001 - i % 2, "type": "channel", "title": "Mine"}
        await fake.push(chat=group, **{"from": user(ANN)}, sender_chat=channel, text="/top")
    # Channels behind Telegram's shared Channel_Bot are told apart by sender_chat: one's flood is not another's.
    await fake.push(chat=group, **as_channel(-1009), text="/top")
    await idle(fake, bot)
    texts = [m["text"] for m in fake.sent(GROUP)]
    assert texts.count(SLOW_DOWN) == 1 and len(texts) == limit + 2


async def test_a_label_flood_takes_turns_with_another_chats_new_labels(
        bot: Application, fake: FakeTelegram, samples_dir: Path, patience: float) -> None:  # type: ignore[type-arg]
    worker = bot.bot_data[SERVICES_KEY].worker
    flood_chat = private_chat(ANN)
    for n in range(30):
        words = ", ".join(f"beast{n}x{i}" for i in range(50))
        await fake.push(chat=flood_chat, **{"from": user(ANN)}, text=f"/labels {words}")
    await fake.wait_for(lambda: worker.labels_encoding > 0)
    before = len(worker.label_turns)
    mine = private_chat(BOB)
    await fake.push(chat=mine, **{"from": user(BOB)}, text="/labels owlet, kitling, foxkin")
    started = time.monotonic()
    photo = await fake.push(chat=mine, **{"from": user(BOB)}, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    await fake.wait_for(lambda: bool(answers_to(fake, BOB, photo["message_id"])), 5 * patience)
    assert time.monotonic() - started < 5 * patience
    assert any(word in answers_to(fake, BOB, photo["message_id"])[0]["text"] for word in ("owlet", "kitling", "foxkin"))
    turns = worker.label_turns[before:]
    mine = [i for i, owner in enumerate(turns) if owner == BOB]
    # Turns per chat: while Bob's chat had labels waiting, the flood got one chunk for each of its.
    assert mine and turns[mine[0]:mine[-1] + 1].count(ANN) <= len(mine)
    await idle(fake, bot)
    refusals = [m for m in fake.sent(ANN) if m["text"].startswith("I'm still learning this chat's last new labels")]
    assert refusals and worker.stats.labels_refused == len(refusals)  # past the cap, asked to wait


async def start_round_on(fake: FakeTelegram, samples_dir: Path, sender: dict[str, Any]) -> dict[str, Any]:
    """A round on a new picture in GROUP, started by sender (message fields); returns the picture's message."""
    group = group_chat(GROUP)
    picture = await fake.push(chat=group, **sender, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    before = len(fake.sent(GROUP))
    await fake.push(chat=group, **sender, text="/game", reply_to_message=picture)
    await fake.wait_for(lambda: len(fake.sent(GROUP)) > before)
    assert fake.sent(GROUP)[-1]["text"].startswith("Which animal does the AI see?")
    return picture


async def reveal_by(fake: FakeTelegram, sender: dict[str, Any]) -> str:
    """Push /reveal from sender; what the bot said to the group next (a refusal, or the reveal's edit)."""
    seen = len(fake.calls)

    def said() -> list[Any]:
        return [c for c in fake.calls[seen:] if c.method in ("sendMessage", "editMessageText")
                and int(c.params["chat_id"]) == GROUP]

    await fake.push(chat=group_chat(GROUP), **sender, text="/reveal")
    await fake.wait_for(lambda: bool(said()))
    return str(said()[0].params["text"])


async def test_a_round_picture_is_classified_nowhere_else_until_the_reveal(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    picture = await start_round_on(fake, samples_dir, {"from": user(ANN)})
    forwarded = await fake.push(chat=private_chat(BOB), **{"from": user(BOB)}, photo=picture["photo"],
                                caption="cat, dog, fox, bear", forward_origin={"type": "user", "date": 1,
                                                                               "sender_user": user(ANN)})
    await fake.wait_for(lambda: bool(answers_to(fake, BOB, forwarded["message_id"])))
    assert answers_to(fake, BOB, forwarded["message_id"])[0]["text"] == IN_GAME
    classify = await fake.push(chat=group_chat(-100555), **{"from": user(CAT)}, caption="/classify",
                               photo=picture["photo"][-1:])  # one size of it, elsewhere, is the same picture
    await fake.wait_for(lambda: bool(answers_to(fake, -100555, classify["message_id"])))
    assert answers_to(fake, -100555, classify["message_id"])[0]["text"] == IN_GAME
    assert "The AI saw" in await reveal_by(fake, {"from": user(ANN)})
    again = await fake.push(chat=private_chat(BOB), **{"from": user(BOB)}, photo=picture["photo"],
                            caption="cat, dog, fox, bear")
    await fake.wait_for(lambda: bool(answers_to(fake, BOB, again["message_id"])))
    assert "—" in answers_to(fake, BOB, again["message_id"])[0]["text"]  # a prediction now


async def test_reveal_belongs_to_the_real_starter_or_an_admin_not_a_shared_id(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    refused = "Only the player who started the round, or an administrator, can reveal it."
    await start_round_on(fake, samples_dir, as_channel(-1001, "Ann's channel"))
    assert await reveal_by(fake, as_channel(-1002, "Someone else's channel")) == refused  # same from: Channel_Bot
    assert await reveal_by(fake, {"from": user(BOB)}) == refused
    assert "The AI saw" in await reveal_by(fake, as_channel(-1001, "Ann's channel"))
    await start_round_on(fake, samples_dir, as_channel(-1001, "Ann's channel"))
    assert "The AI saw" in await reveal_by(fake, as_anonymous_admin(group_chat(GROUP)))  # an administrator
    fake.members[(GROUP, CAT)] = "administrator"
    await start_round_on(fake, samples_dir, {"from": user(BOB)})
    assert "The AI saw" in await reveal_by(fake, {"from": user(CAT)})
