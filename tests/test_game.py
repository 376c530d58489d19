"""The guessing game end to end, through the fake Bot API with the tiny model."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.conversation.rounds import CALLBACK_PREFIX, keyboard
from bot.settings import BotSettings
from bot.state.storage import Storage
from bot.words.i18n import speaker
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user

ANN, BOB, CAT = 601, 602, 603
GROUP, OTHER_GROUP = -100888, -100999
_presses = itertools.count(1)


async def start_round(fake: FakeTelegram, samples_dir: Path, label: str = "fox", by: int = ANN,
                      chat: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ann replies /game to a picture; returns the round message the bot sent."""
    chat = chat or group_chat(GROUP)
    picture = await fake.push(chat=chat, **{"from": user(by)}, photo=fake.photo([(64, 64, sample(samples_dir, label))]))
    before = len(fake.sent(chat["id"]))
    await fake.push(chat=chat, **{"from": user(by)}, text="/game", reply_to_message=picture)
    await fake.wait_for(lambda: len(fake.sent(chat["id"])) > before)
    call = next(c for c in reversed(fake.methods("sendMessage")) if int(c.params["chat_id"]) == chat["id"])
    return dict(call.result) | {"reply_markup": json.loads(call.params.get("reply_markup") or "null")}


def buttons(round_message: dict[str, Any]) -> dict[str, str]:
    """Button text -> callback data."""
    return {b["text"]: b["callback_data"] for row in round_message["reply_markup"]["inline_keyboard"] for b in row}


async def press(fake: FakeTelegram, round_message: dict[str, Any], who: int, data: str,
                name: str = "Player") -> str:
    """Press a button; returns the toast the bot answered with."""
    query_id = f"q{next(_presses)}"
    await fake.push_update({"callback_query": {
        "id": query_id, "from": user(who, name), "chat_instance": "ci", "data": data,
        "message": {"message_id": round_message["message_id"], "date": round_message["date"],
                    "chat": round_message["chat"], "text": round_message["text"]},
    }})
    await fake.wait_for(lambda: any(c.params.get("callback_query_id") == query_id
                                    for c in fake.methods("answerCallbackQuery")))
    answer = next(c for c in fake.methods("answerCallbackQuery") if c.params["callback_query_id"] == query_id)
    return str(answer.params.get("text"))


def edits(fake: FakeTelegram, message_id: int) -> list[dict[str, Any]]:
    return [c.params for c in fake.methods("editMessageText") if int(c.params["message_id"]) == message_id]


async def test_a_full_round_with_three_players(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                               samples_dir: Path) -> None:
    round_message = await start_round(fake, samples_dir, "fox")
    assert round_message["text"] == "Which animal does the AI see?\nVotes: 0"
    choices = buttons(round_message)
    assert len(choices) == 4 and "fox" in choices
    wrong = next(label for label in choices if label != "fox")

    assert await press(fake, round_message, ANN, choices["fox"], "Ann") == "You picked fox"
    assert await press(fake, round_message, BOB, choices[wrong], "Bob") == f"You picked {wrong}"
    assert await press(fake, round_message, ANN, choices[wrong], "Ann") == "You already voted."
    await fake.wait_for(lambda: any(e["text"].endswith("Votes: 2") for e in edits(fake, round_message["message_id"])))

    await fake.push(chat=group_chat(GROUP), **{"from": user(BOB, "Bob")}, text="/reveal")
    await fake.wait_for(lambda: fake.sent(GROUP)[-1]["text"]
                        == "Only the player who started the round, or an administrator, can reveal it.")
    await fake.push(chat=group_chat(GROUP), **{"from": user(ANN, "Ann")}, text="/reveal")
    await fake.wait_for(lambda: any("The AI saw" in e["text"] for e in edits(fake, round_message["message_id"])))
    reveal = next(e for e in edits(fake, round_message["message_id"]) if "The AI saw" in e["text"])
    assert reveal["text"].startswith("The AI saw: <b>fox</b> (")
    assert "Right: Ann — one point each." in reveal["text"]
    # the vote buttons go away; "Where?" takes their place
    assert json.loads(reveal["reply_markup"])["inline_keyboard"] == [[{"text": "Where?", "callback_data": "w"}]]
    assert await press(fake, round_message, CAT, choices["fox"], "Cat") == "This round is over."
    assert "The AI saw" in edits(fake, round_message["message_id"])[-1]["text"]  # no vote count after it


async def test_forged_and_stale_presses_change_nothing(bot: Application,  # type: ignore[type-arg]
                                                       fake: FakeTelegram, samples_dir: Path,
                                                       bot_settings: BotSettings) -> None:
    round_message = await start_round(fake, samples_dir, "pig")
    round_id = buttons(round_message)["pig"].split(":")[1]
    other_chat = dict(round_message) | {"chat": group_chat(OTHER_GROUP)}
    for message, data in [
        (round_message, f"{CALLBACK_PREFIX}:999999:0"),  # unknown round
        (round_message, f"{CALLBACK_PREFIX}:{round_id}:4"),  # option out of range
        (round_message, f"{CALLBACK_PREFIX}:{round_id}:-1"),
        (round_message, "garbage"),
        (round_message, f"{CALLBACK_PREFIX}:{round_id}"),
        (other_chat, f"{CALLBACK_PREFIX}:{round_id}:0"),  # wrong chat
    ]:
        assert await press(fake, message, BOB, data) == "This button is not valid."
    with sqlite3.connect(bot_settings.database_path) as db:
        assert db.execute("SELECT count(*) FROM votes").fetchone() == (0,)  # no vote was stored
    db.close()
    await fake.push(chat=group_chat(GROUP), **{"from": user(ANN, "Ann")}, text="/reveal")
    await fake.wait_for(lambda: any("The AI saw" in e["text"] for e in edits(fake, round_message["message_id"])))
    [reveal] = edits(fake, round_message["message_id"])  # no vote count was shown before it
    assert reveal["text"].endswith("Nobody voted.")


async def test_round_ends_by_itself_and_top_counts_two_rounds(bot_settings: BotSettings, fake: FakeTelegram,
                                                               samples_dir: Path,
                                                               patience: float) -> None:
    # A press must come before the round ends: 1.5 s on the development machine, longer on a slower
    # one (at most 10 s: a press takes a few milliseconds; the cap keeps an overloaded machine's test short).
    seconds = min(1.5 * patience / 3, 10.0)
    async with running_bot(replace(bot_settings, game_round_seconds=seconds)):
        for label in ("duck", "lion"):
            round_message = await start_round(fake, samples_dir, label)
            assert await press(fake, round_message, BOB, buttons(round_message)[label], "Bob") == f"You picked {label}"
            await fake.wait_for(lambda m=round_message: any("The AI saw" in e["text"]  # type: ignore[misc]
                                                            for e in edits(fake, m["message_id"])), 60 + seconds)
        await fake.push(chat=group_chat(GROUP), **{"from": user(ANN)}, text="/top")
        await fake.wait_for(lambda: fake.sent(GROUP)[-1]["text"].startswith("<b>Leaderboard</b>"))
        assert fake.sent(GROUP)[-1]["text"] == "<b>Leaderboard</b>\n1. Bob — 2"


async def test_one_round_at_a_time(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                   samples_dir: Path) -> None:
    started = time.time()
    await start_round(fake, samples_dir, "cat")
    await start_round(fake, samples_dir, "dog", by=BOB)
    elapsed = time.time() - started  # the round began after `started`; it was answered before now
    text = fake.sent(GROUP)[-1]["text"]
    assert text.startswith("A round is already running: ") and text.endswith(" s left.")
    assert 30 - elapsed - 0.5 <= int(text.split(": ")[1].split(" ")[0]) <= 30  # rounded to whole seconds


async def test_a_round_open_at_shutdown_ends_at_the_next_start(bot_settings: BotSettings, fake: FakeTelegram,
                                                                samples_dir: Path) -> None:
    async with running_bot(bot_settings):
        round_message = await start_round(fake, samples_dir, "rabbit")
        await press(fake, round_message, BOB, buttons(round_message)["rabbit"], "Bob")
    assert not any("The AI saw" in e["text"] for e in edits(fake, round_message["message_id"]))
    async with running_bot(bot_settings):
        await fake.wait_for(lambda: any("restart" in e["text"] for e in edits(fake, round_message["message_id"])))
        await fake.push(chat=group_chat(GROUP), **{"from": user(ANN)}, text="/top")
        await fake.wait_for(lambda: fake.sent(GROUP)[-1]["text"].endswith("1. Bob — 1"))


async def test_a_solo_round_in_a_private_chat(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                              samples_dir: Path) -> None:
    chat = private_chat(ANN)
    await fake.push(chat=chat, **{"from": user(ANN)}, caption="/game",
                    photo=fake.photo([(64, 64, sample(samples_dir, "elephant"))]))
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)
    call = fake.methods("sendMessage")[-1]
    round_message = dict(call.result) | {"reply_markup": json.loads(call.params["reply_markup"])}
    assert await press(fake, round_message, ANN, buttons(round_message)["elephant"], "Ann") == "You picked elephant"


def test_callback_data_fits_telegram_limit_for_any_label() -> None:
    markup = keyboard(2**62, ["x" * 60, "🦊" * 60, "<b>&</b>", "d"], speaker("ru"))
    for row in markup.inline_keyboard:
        for button in row:
            assert len(str(button.callback_data).encode()) <= 64
    assert markup.inline_keyboard[0][1].text == "🦊" * 60


async def test_every_label_is_a_button_when_there_are_four_or_fewer(bot: Application,  # type: ignore[type-arg]
                                                                     fake: FakeTelegram, samples_dir: Path) -> None:
    chat = private_chat(ANN)
    for labels in (("fox", "duck", "pig"), ("fox", "duck", "pig", "lion")):
        before = len(fake.sent(ANN))
        await fake.push(chat=chat, **{"from": user(ANN)}, text="/labels " + ", ".join(labels))
        await fake.push(chat=chat, **{"from": user(ANN)}, caption="/game",
                        photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.wait_for(lambda n=before: len(fake.sent(ANN)) == n + 2)  # type: ignore[misc]
        assert fake.sent(ANN)[-1]["text"].startswith("Which animal")
        call = fake.methods("sendMessage")[-1]
        assert sorted(buttons({"reply_markup": json.loads(call.params["reply_markup"])})) == sorted(labels)
        await fake.push(chat=chat, **{"from": user(ANN)}, text="/reveal")
        await fake.wait_for(lambda c=call: any("The AI saw" in e["text"]  # type: ignore[misc]
                                               for e in edits(fake, c.result["message_id"])))


async def test_top_shows_the_ten_best(bot_settings: BotSettings, fake: FakeTelegram) -> None:
    storage = await Storage.open(bot_settings.database_path)
    for points in range(1, 13):  # player n is right in n rounds; twelve players
        round_id = await storage.open_round(GROUP, 0, ANN, ("a", "b"), 0, 0.5, ends_at=time.time() + 60)
        assert round_id is not None
        for player in range(points, 13):
            await storage.vote(round_id, player, f"Player {player}", 0, time.time())
        await storage.close_round(round_id)
    await storage.close()
    async with running_bot(bot_settings):
        await fake.push(chat=group_chat(GROUP), **{"from": user(ANN)}, text="/top")
        await fake.wait_for(lambda: bool(fake.sent(GROUP)))
    lines = fake.sent(GROUP)[0]["text"].split("\n")
    assert lines[0] == "<b>Leaderboard</b>"
    assert lines[1:] == [f"{rank}. Player {13 - rank} — {13 - rank}" for rank in range(1, 11)]
