"""A chat's life on Telegram, through the real Application and the fake Bot API: a group upgraded to
a supergroup (service messages in either order, a restart between them, ChatMigrated answers, a round
open at the moment of the upgrade), chats that block or remove the bot (Forbidden, my_chat_member),
and forgetting them after FORGET_AFTER_DAYS on a clock the test moves."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.conversation.services import SERVICES_KEY, Services
from bot.settings import BotSettings
from bot.state.lifecycle import DAY_SECONDS
from bot.state.schema import APPLICATION_ID, MIGRATIONS
from bot.state.storage import Storage
from bot.words import replies
from bot.words.i18n import speaker
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, basic_group, group_chat, private_chat, user
from tests.test_game import buttons, press, start_round

ANN, BOB = 701, 702
OLD, NEW = -4001, -1004001  # a basic group and the supergroup it becomes
LABELS = ("fox", "pig", "duck", "lion")
RU = speaker("ru")


class Clock:
    """Unix time that a test can move forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def move(self, days: float) -> None:
        self.offset += days * DAY_SECONDS


def services_of(application: Application) -> Services:  # type: ignore[type-arg]
    return application.bot_data[SERVICES_KEY]  # type: ignore[no-any-return]


async def until(condition: Callable[[], Awaitable[bool]], timeout: float) -> None:
    """Poll an async condition (the bot's own database) until it holds; fail after timeout."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "the bot did not get there in time"
        await asyncio.sleep(0.01)


async def say(fake: FakeTelegram, chat: dict[str, Any], text: str, by: int = ANN) -> str:
    """Send text in chat; returns the bot's answer there."""
    message = await fake.push(chat=chat, **{"from": user(by, "Ann" if by == ANN else "Bob")}, text=text)

    def answer() -> list[dict[str, Any]]:
        return [a for a in fake.sent(chat["id"]) if a.get("reply_parameters", {}).get("message_id")
                == message["message_id"]]

    await fake.wait_for(lambda: bool(answer()))
    return str(answer()[-1]["text"])


async def a_group_with_history(fake: FakeTelegram, samples_dir: Path, chat: dict[str, Any]) -> None:
    """Ann (an admin) sets labels and Russian; Bob wins a round, which Ann reveals."""
    fake.members[(chat["id"], ANN)] = "administrator"
    assert (await say(fake, chat, "/labels " + ", ".join(LABELS))).startswith("Labels set (4)")
    await say(fake, chat, "/language ru")
    if chat["type"] == "private":  # a photo there is answered at once: the round starts from its caption
        before = len(fake.sent(chat["id"]))
        await fake.push(chat=chat, **{"from": user(ANN)}, caption="/game",
                        photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.wait_for(lambda: len(fake.sent(chat["id"])) > before)
        call = fake.methods("sendMessage")[-1]
        round_message = dict(call.result) | {"reply_markup": json.loads(call.params["reply_markup"])}
    else:
        round_message = await start_round(fake, samples_dir, "fox", by=ANN, chat=chat)
    await press(fake, round_message, BOB, buttons(round_message)[RU.animal("fox")], "Bob")
    await fake.push(chat=chat, **{"from": user(ANN)}, text="/reveal")
    await fake.wait_for(lambda: any("ИИ увидел" in str(c.params["text"]) for c in fake.methods("editMessageText")))
    # and the map of where the AI looked, which follows the reveal in a task of its own
    await fake.wait_for(lambda: any(int(c.params["chat_id"]) == chat["id"] for c in fake.methods("sendPhoto")))


async def everything_is_under(fake: FakeTelegram, samples_dir: Path, chat: dict[str, Any]) -> None:
    """The labels, the language and Bob's point answer from chat, and its pictures use its labels."""
    assert await say(fake, chat, "/labels") == replies.labels_shown(RU, LABELS, is_default=False)
    assert await say(fake, chat, "/top") == replies.leaderboard(RU, [("Bob", 1)])
    before = len(fake.sent(chat["id"]))
    await fake.push(chat=chat, **{"from": user(ANN)}, caption="/classify",
                    photo=fake.photo([(64, 64, sample(samples_dir, "duck"))]))
    await fake.wait_for(lambda: len(fake.sent(chat["id"])) > before)
    names = [line.split(" — ")[0].removeprefix("<b>").removesuffix("</b>")
             for line in fake.sent(chat["id"])[-1]["text"].split("\n")]
    assert set(names) <= {RU.animal(label) for label in LABELS} and len(names) == 3


@pytest.mark.parametrize(("first", "restart"), [("to", False), ("to", True), ("from", True)])
async def test_an_upgraded_group_keeps_everything(bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path,
                                                  first: str, restart: bool) -> None:
    old = basic_group(OLD)

    async def the_other_service_message() -> None:
        if first == "to":
            await fake.migrate_from(new, OLD, user(ANN))
        else:
            await fake.migrate_to(old, NEW, user(ANN))
        await everything_is_under(fake, samples_dir, new)  # the second message moved nothing away

    async with running_bot(bot_settings) as application:
        await a_group_with_history(fake, samples_dir, old)
        new = fake.upgrade(old, NEW)
        upgraded_at = len(fake.calls)
        fake.members[(NEW, ANN)] = "administrator"
        if first == "to":
            await fake.migrate_to(old, NEW, user(ANN))
        else:
            await fake.migrate_from(new, OLD, user(ANN))
        storage = services_of(application).storage
        await until(lambda: _has_labels(storage, NEW), 30)
        assert await storage.get_labels(OLD) is None and await storage.get_language(OLD) is None
        if not restart:
            await the_other_service_message()
    if restart:
        async with running_bot(bot_settings):
            await the_other_service_message()
    assert not [c for c in fake.calls[upgraded_at:] if int(c.params.get("chat_id", 0)) == OLD]


async def _has_labels(storage: Any, chat_id: int) -> bool:
    return await storage.get_labels(chat_id) is not None


async def test_a_send_answered_with_chat_migrated_moves_the_chat_and_goes_to_the_new_id(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    old = basic_group(OLD)
    await a_group_with_history(fake, samples_dir, old)
    new = fake.upgrade(old, NEW)  # no service message yet: the answer to a send tells of it first
    fake.members[(NEW, ANN)] = "administrator"
    await fake.push(chat=old, **{"from": user(ANN)}, text="/top")  # written just before the upgrade
    await fake.wait_for(lambda: len(fake.sent(NEW)) == 1)
    refused = [c for c in fake.methods("sendMessage") if int(c.params["chat_id"]) == OLD and c.result is None]
    assert len(refused) == 1  # sent once to the old id, refused, then once to the new one
    again = fake.sent(NEW)[0]
    assert again["text"] == replies.leaderboard(RU, [("Bob", 1)]) and "reply_parameters" not in again
    await everything_is_under(fake, samples_dir, new)


async def test_a_round_open_during_the_upgrade_is_revealed_in_the_new_chat(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    old = basic_group(OLD)
    round_message = await start_round(fake, samples_dir, "pig", by=ANN, chat=old)
    await press(fake, round_message, BOB, buttons(round_message)["pig"], "Bob")
    new = fake.upgrade(old, NEW)
    await fake.migrate_to(old, NEW, user(ANN))
    await fake.migrate_from(new, OLD, user(ANN))
    await fake.push(chat=new, **{"from": user(ANN)}, text="/reveal")
    await fake.wait_for(lambda: any("The AI saw" in a["text"] for a in fake.sent(NEW)))
    reveal = next(a for a in fake.sent(NEW) if "The AI saw" in a["text"])
    assert reveal["text"].startswith("The AI saw: <b>pig</b>") and "Right: Bob" in reveal["text"]
    assert await say(fake, new, "/top") == replies.leaderboard(speaker("en"), [("Bob", 1)])


async def test_a_blocked_chat_gets_no_apology_no_traceback_and_one_info_line(
        bot: Application, fake: FakeTelegram, samples_dir: Path,  # type: ignore[type-arg]
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    group = group_chat(-100321)
    round_message = await start_round(fake, samples_dir, "lion", by=ANN, chat=group)
    fake.refuse(ANN)  # Ann blocked the bot; her photo was sent just before
    await fake.push(chat=private_chat(ANN), **{"from": user(ANN)},
                    photo=fake.photo([(64, 64, sample(samples_dir, "cat"))]))
    fake.refuse(group["id"], "Forbidden: bot was kicked from the supergroup chat")
    await fake.push(chat=group, **{"from": user(BOB)}, text="/top")
    chats, games = services_of(bot).chats, services_of(bot).games
    await fake.wait_for(lambda: not chats.reachable(ANN) and not chats.reachable(group["id"]))
    assert await games.end(int(buttons(round_message)["lion"].split(":")[1]))  # the round's time is up
    assert len(fake.sent(ANN)) == 1  # the answer, refused; no apology after it
    to_group = [c for c in fake.calls if int(c.params.get("chat_id", 0)) == group["id"]]
    assert to_group[-1].method == "sendMessage" and to_group[-1].result is None  # no reveal after the refusal
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    refused = [r for r in caplog.records if "marked unreachable" in r.getMessage()]
    assert [r.levelno for r in refused] == [logging.INFO, logging.INFO] and not any(r.exc_info for r in refused)


async def test_a_chat_is_reachable_again_when_it_writes_or_the_bot_is_back(
        bot: Application, fake: FakeTelegram) -> None:  # type: ignore[type-arg]
    chats = services_of(bot).chats
    group = group_chat(-100654)
    await fake.my_chat_member(group, user(ANN), "member", "left")
    await fake.my_chat_member(private_chat(BOB), user(BOB), "member", "kicked")
    await fake.wait_for(lambda: not chats.reachable(group["id"]) and not chats.reachable(BOB))
    await fake.my_chat_member(group, user(ANN), "left", "member")
    await fake.wait_for(lambda: chats.reachable(group["id"]))
    assert await say(fake, private_chat(BOB), "/top", by=BOB) == replies.leaderboard(speaker("en"), [])
    assert chats.reachable(BOB)


@pytest.mark.parametrize("private", [False, True])
async def test_forget_after_zero_days_deletes_a_removed_chat_at_once(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path, private: bool) -> None:
    chat = private_chat(ANN) if private else basic_group(OLD)
    async with running_bot(replace(bot_settings, forget_after_days=0)) as application:
        await a_group_with_history(fake, samples_dir, chat)
        storage = services_of(application).storage
        assert await storage.leaderboard(chat["id"]) == [("Bob", 1)]
        await fake.my_chat_member(chat, user(ANN), "member", "kicked")
        await until(lambda: _forgotten(storage, chat["id"]), 30)
        assert await storage.get_language(chat["id"]) is None and await storage.leaderboard(chat["id"]) == []


async def _forgotten(storage: Any, chat_id: int) -> bool:
    return await storage.get_labels(chat_id) is None


async def test_forget_after_days_waits_for_the_days_and_spares_a_chat_that_took_the_bot_back(
        bot_settings: BotSettings, fake: FakeTelegram, patience: float) -> None:
    clock = Clock()
    settings = replace(bot_settings, forget_after_days=30, forget_check_seconds=0.05, clock=clock)
    removed, back, admin = group_chat(-100701), group_chat(-100702), user(ANN)
    async with running_bot(settings) as application:
        chats, storage = services_of(application).chats, services_of(application).storage
        for chat in (removed, back):
            fake.members[(chat["id"], ANN)] = "administrator"
            await say(fake, chat, "/labels cat, dog")
            await fake.my_chat_member(chat, admin, "member", "left")
        await fake.wait_for(lambda: not chats.reachable(removed["id"]) and not chats.reachable(back["id"]))
        clock.move(10)
        await fake.my_chat_member(back, admin, "left", "member")
        await fake.wait_for(lambda: chats.reachable(back["id"]))
        clock.move(19.9)
        sweeps = chats.sweeps
        await fake.wait_for(lambda: chats.sweeps >= sweeps + 2, 10 * patience)
        assert await storage.get_labels(removed["id"]) == ("cat", "dog")  # 29.9 days: kept
        clock.move(0.2)
        await until(lambda: _forgotten(storage, removed["id"]), 10 * patience)
        sweeps = chats.sweeps
        await fake.wait_for(lambda: chats.sweeps >= sweeps + 2, 10 * patience)
        assert await storage.get_labels(back["id"]) == ("cat", "dog")  # the bot is back: kept


async def test_forgetting_is_checked_at_start(bot_settings: BotSettings, fake: FakeTelegram) -> None:
    clock = Clock()
    settings = replace(bot_settings, forget_after_days=30, clock=clock)  # checked hourly: only the start counts
    removed = group_chat(-100801)
    async with running_bot(settings) as application:
        fake.members[(removed["id"], ANN)] = "administrator"
        await say(fake, removed, "/labels cat, dog")
        await fake.my_chat_member(removed, user(ANN), "administrator", "kicked")
        await fake.wait_for(lambda: not services_of(application).chats.reachable(removed["id"]))
    clock.move(31)
    async with running_bot(settings) as application:
        assert await services_of(application).storage.get_labels(removed["id"]) is None


def test_the_settings_are_read() -> None:
    settings = BotSettings.from_env({"TELEGRAM_BOT_TOKEN": "t", "FORGET_AFTER_DAYS": "0",
                                     "FORGET_CHECK_SECONDS": "60", "ALBUM_WAIT_SECONDS": "0.5"})
    assert (settings.forget_after_days, settings.forget_check_seconds, settings.album_wait_seconds) == (0, 60, 0.5)
    assert BotSettings(token="t").forget_after_days == 30


async def test_a_version_3_database_keeps_its_open_round_and_gets_topics(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:3]:
            db.executescript(migration)
        db.executescript(f"PRAGMA user_version = 3; PRAGMA application_id = {APPLICATION_ID};")
        db.execute("INSERT INTO rounds (chat_id, starter_id, options, answer, probability, ends_at) "
                   "VALUES (-5, 1, '[\"fox\", \"cat\"]', 0, 0.9, 1e12)")
    storage = await Storage.open(path)
    try:
        assert await storage.schema_version() == len(MIGRATIONS)
        [kept] = await storage.open_rounds()
        assert (kept.chat_id, kept.thread_id, kept.options) == (-5, 0, ("fox", "cat"))
        assert await storage.open_round(-5, 0, 2, ("a", "b"), 0, 0.5, 1e12) is None  # one per topic
        assert await storage.open_round(-5, 7, 2, ("a", "b"), 0, 0.5, 1e12) is not None  # another topic
    finally:
        await storage.close()
