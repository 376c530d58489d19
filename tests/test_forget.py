"""Forgetting on request and the privacy screen, through the real Application and the fake Bot API:
/forget (asked first, admins only in groups), /forget me (in a private chat), /privacy."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.settings import BotSettings
from bot.words import replies, screens
from bot.words.i18n import speaker
from tests.conftest import running_bot
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user
from tests.test_chatlife import a_group_with_history, say, services_of
from tests.test_game import buttons, press, start_round

ANN, BOB = 701, 702
GROUP, OTHER = -100901, -100902
EN, RU = speaker("en"), speaker("ru")
_queries = itertools.count(1)


async def asked(fake: FakeTelegram, chat: dict[str, Any], text: str, by: int = ANN) -> dict[str, Any]:
    """Send text; returns the bot's answer (a sendMessage call's result, with its buttons)."""
    await say(fake, chat, text, by)
    call = next(c for c in reversed(fake.methods("sendMessage")) if int(c.params["chat_id"]) == chat["id"])
    return dict(call.result) | {"reply_markup": json.loads(call.params.get("reply_markup") or "null")}


async def pressed(fake: FakeTelegram, question: dict[str, Any], label: str, by: int) -> tuple[str | None, str | None]:
    """Press a button of question; returns (the toast, the text the question was edited into, if it was)."""
    data = buttons(question)[label]
    query_id = f"f{next(_queries)}"
    edits_before = len(fake.methods("editMessageText"))
    await fake.push_update({"callback_query": {
        "id": query_id, "from": user(by), "chat_instance": "ci", "data": data,
        "message": {"message_id": question["message_id"], "date": question["date"], "chat": question["chat"],
                    "text": question["text"]}}})
    await fake.wait_for(lambda: any(c.params.get("callback_query_id") == query_id
                                    for c in fake.methods("answerCallbackQuery")))
    toast = next(c for c in fake.methods("answerCallbackQuery") if c.params["callback_query_id"] == query_id)
    edits = fake.methods("editMessageText")[edits_before:]
    return toast.params.get("text"), (str(edits[-1].params["text"]) if edits else None)


async def test_forget_asks_admins_first_then_says_what_it_deleted(bot: Application,  # type: ignore[type-arg]
                                                                  fake: FakeTelegram, samples_dir: Path) -> None:
    group = group_chat(GROUP)
    await a_group_with_history(fake, samples_dir, group)  # labels, Russian, one round, Bob's vote and point
    assert await say(fake, group, "/forget", by=BOB) == replies.admins_only_forget(RU)
    question = await asked(fake, group, "/forget")
    assert question["text"] == replies.forget_chat_question(RU)
    assert await pressed(fake, question, replies.forget_button(RU), BOB) == (replies.admins_only_forget(RU), None)
    assert await pressed(fake, question, replies.keep_button(RU), ANN) == (None, replies.nothing_forgotten(RU))
    storage = services_of(bot).storage
    assert await storage.get_labels(GROUP) is not None  # neither Bob's press nor "Keep" deleted anything
    question = await asked(fake, group, "/forget")
    _, said = await pressed(fake, question, replies.forget_button(RU), ANN)
    assert said == replies.chat_forgotten(RU, labels=1, settings=1, notes=0, rounds=1, votes=1, scores=1)
    assert await say(fake, group, "/top") == replies.leaderboard(EN, [])
    assert (await say(fake, group, "/labels")).startswith("Labels (the default set, 10)")


async def test_forget_me_deletes_a_player_everywhere(bot: Application,  # type: ignore[type-arg]
                                                    fake: FakeTelegram, samples_dir: Path) -> None:
    for chat_id in (GROUP, OTHER):
        round_message = await start_round(fake, samples_dir, "duck", by=ANN, chat=group_chat(chat_id))
        await press(fake, round_message, BOB, buttons(round_message)["duck"], "Bob")
        await press(fake, round_message, ANN, buttons(round_message)["duck"], "Ann")
        await fake.push(chat=group_chat(chat_id), **{"from": user(ANN)}, text="/reveal")
        await fake.wait_for(lambda c=chat_id: say_sent(fake, c, "Right: "))
    assert await say(fake, group_chat(GROUP), "/forget me", by=BOB) == replies.forget_me_in_private(EN)
    bob = private_chat(BOB)
    await say(fake, bob, "/labels cat, dog", by=BOB)
    question = await asked(fake, bob, "/forget me", by=BOB)
    assert question["text"] == replies.forget_me_question(EN)
    _, said = await pressed(fake, question, replies.forget_button(EN), BOB)
    assert said == replies.player_forgotten(EN, votes=2, points=2, chats=2)
    for chat_id in (GROUP, OTHER):  # Ann keeps her points; Bob is gone
        assert await say(fake, group_chat(chat_id), "/top") == replies.leaderboard(EN, [("Ann", 1)])
    assert (await say(fake, bob, "/labels", by=BOB)).startswith("Labels (the default set, 10)")


def say_sent(fake: FakeTelegram, chat_id: int, text: str) -> bool:
    return any(text in str(c.params["text"]) for c in fake.methods("editMessageText")
               if int(c.params["chat_id"]) == chat_id)


async def test_forget_with_anything_else_gets_its_usage(bot: Application,  # type: ignore[type-arg]
                                                        fake: FakeTelegram) -> None:
    assert await say(fake, private_chat(ANN), "/forget everything") == replies.forget_usage(EN)


async def test_privacy_says_what_is_kept_and_for_how_long(bot_settings: BotSettings, fake: FakeTelegram) -> None:
    async with running_bot(bot_settings):
        text = await say(fake, private_chat(ANN), "/privacy")
        assert text == screens.privacy(EN, 30) and "deleted 30 days later" in text
        assert "<b>Pictures seen before</b>" in text and "/forget leaves them" in text  # the image cache
    async with running_bot(replace(bot_settings, forget_after_days=0)):
        assert "deleted at once" in await say(fake, private_chat(ANN), "/privacy")
    for needed in ("/forget", "/forget me", "Never a picture", "Who sees it"):
        assert needed in text
