"""/settings through the real Application and the fake Bot API: a chat's switches as buttons, their
defaults (OPEN_SET), who may press them, and that they move with an upgrade and go with /forget."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from telegram.ext import Application

from bot.settings import BotSettings
from bot.state.options import ChatOption
from bot.words import replies
from bot.words.i18n import speaker
from tests.conftest import running_bot
from tests.fake_telegram import FakeTelegram, group_chat, private_chat
from tests.test_chatlife import services_of
from tests.test_forget import asked, pressed
from tests.test_game import buttons

ANN, BOB = 801, 802
GROUP = -100811
EN, RU = speaker("en"), speaker("ru")
OPEN_ON, OPEN_OFF = replies.option_button(EN, "open_set", True), replies.option_button(EN, "open_set", False)
MAP_ON = replies.option_button(EN, "reveal_map", True)


async def test_settings_shows_each_switch_and_a_press_turns_it(bot: Application,  # type: ignore[type-arg]
                                                               fake: FakeTelegram) -> None:
    chat = private_chat(ANN)
    question = await asked(fake, chat, "/settings", by=ANN)
    assert question["text"] == replies.settings_text(EN)
    assert list(buttons(question)) == [OPEN_ON, MAP_ON]  # both on by default, in ChatOption's order
    toast, edited = await pressed(fake, question, OPEN_ON, ANN)
    assert (toast, edited) == (replies.option_switched(EN, False), replies.settings_text(EN))
    edit = fake.methods("editMessageText")[-1]
    keyboard = json.loads(edit.params["reply_markup"])["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == [OPEN_OFF, MAP_ON]
    options = services_of(bot).options
    assert not await options.enabled(ANN, ChatOption.OPEN_SET)
    assert await options.enabled(ANN, ChatOption.REVEAL_MAP)
    assert await options.enabled(ANN + 1, ChatOption.OPEN_SET)  # another chat keeps the default
    toast, _ = await pressed(fake, question, OPEN_ON, ANN)  # the old message's button: turns it back
    assert toast == replies.option_switched(EN, True) and await options.enabled(ANN, ChatOption.OPEN_SET)


async def test_only_admins_switch_a_group_and_forget_takes_the_switches(bot: Application,  # type: ignore[type-arg]
                                                                        fake: FakeTelegram) -> None:
    group = group_chat(GROUP)
    fake.members[(GROUP, ANN)] = "administrator"
    question = await asked(fake, group, "/settings", by=BOB)  # anyone may look
    assert await pressed(fake, question, MAP_ON, BOB) == (replies.admins_only_settings(EN), None)
    options = services_of(bot).options
    assert await options.enabled(GROUP, ChatOption.REVEAL_MAP)
    assert (await pressed(fake, question, MAP_ON, ANN))[0] == replies.option_switched(EN, False)
    assert not await options.enabled(GROUP, ChatOption.REVEAL_MAP)
    forget = await asked(fake, group, "/forget", by=ANN)
    _, said = await pressed(fake, forget, replies.forget_button(EN), ANN)
    assert said == replies.chat_forgotten(EN, labels=0, settings=1, notes=0, rounds=0, votes=0, scores=0)
    assert await options.enabled(GROUP, ChatOption.REVEAL_MAP)  # back to the default


async def test_a_forged_switch_changes_nothing(bot: Application, fake: FakeTelegram) -> None:  # type: ignore[type-arg]
    question: dict[str, Any] = await asked(fake, private_chat(ANN), "/settings", by=ANN)
    question["reply_markup"]["inline_keyboard"][0][0]["callback_data"] = "o:no_such_switch"
    assert await pressed(fake, question, OPEN_ON, ANN) == (replies.button_invalid(EN), None)
    assert await services_of(bot).storage.get_options(ANN) == {}


async def test_open_set_off_by_default_for_every_chat(bot_settings: BotSettings, fake: FakeTelegram) -> None:
    async with running_bot(replace(bot_settings, open_set=False)):
        question = await asked(fake, private_chat(ANN), "/settings", by=ANN)
        assert list(buttons(question)) == [OPEN_OFF, MAP_ON]


def test_open_set_reads_on_and_off(bot_settings: BotSettings) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:x"}
    assert BotSettings.from_env(env).open_set
    assert not BotSettings.from_env(env | {"OPEN_SET": "off"}).open_set
    assert BotSettings.from_env(env | {"OPEN_SET": "ON"}).open_set
