"""End to end: "none of these" answers through the real Application against the fake Bot API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from telegram.ext import Application

from bot.conversation.services import SERVICES_KEY
from bot.settings import BotSettings
from bot.words import replies
from bot.words.i18n import speaker
from classifier.text.negatives import NEGATIVE_LABELS
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user
from tests.test_forget import asked, pressed

ANN, BOB = 701, 702
GROUP = -100707
NONE_LINE = "I don't see any of: "
GUESS_LINE = "My closest guess: <i>"


async def answers(fake: FakeTelegram, chat_id: int, count: int) -> list[str]:
    await fake.wait_for(lambda: len(fake.sent(chat_id)) >= count)
    return [str(a["text"]) for a in fake.sent(chat_id)]


async def send_private(fake: FakeTelegram, picture: bytes, caption: str | None = None) -> None:
    extra: dict[str, Any] = {"caption": caption} if caption else {}
    await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, photo=fake.photo([(64, 64, picture)]), **extra)


async def test_a_private_picture_of_none_of_the_labels(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                       samples_dir: Path) -> None:
    await send_private(fake, sample(samples_dir, "other", 2))  # text-like marks, a screenshot
    [none] = await answers(fake, ANN, 1)
    first, guess = none.split("\n")
    # The default labels, most likely first, cut after five.
    assert first.startswith(NONE_LINE) and first.endswith("…") and first.count(", ") == 4
    assert guess.startswith(GUESS_LINE) and guess.endswith("%")
    assert guess.removeprefix(GUESS_LINE).split("</i>")[0] == first.removeprefix(NONE_LINE).split(",")[0]
    await send_private(fake, sample(samples_dir, "fox"))  # an animal is answered as before
    fox = (await answers(fake, ANN, 2))[1]
    assert fox.startswith("<b>fox</b> — ") and fox.count("\n") == 2


async def test_a_caption_list_without_the_animal(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                 samples_dir: Path) -> None:
    await send_private(fake, sample(samples_dir, "fox"), caption="cat, dog")
    [none] = await answers(fake, ANN, 1)
    assert none.split("\n")[0] in (NONE_LINE + "cat, dog", NONE_LINE + "dog, cat")
    await send_private(fake, sample(samples_dir, "dog"), caption="cat, dog")
    assert (await answers(fake, ANN, 2))[1].startswith("<b>dog</b> — ")


async def test_a_groups_own_labels_and_classify(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                samples_dir: Path) -> None:
    chat = group_chat(GROUP)
    fake.members[(GROUP, ANN)] = "administrator"
    await fake.push(chat=chat, **{"from": user(ANN)}, text="/labels cat, dog")
    fox = await fake.push(chat=chat, **{"from": user(BOB, "Bob")},
                          photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    await fake.push(chat=chat, **{"from": user(BOB, "Bob")}, text="/classify", reply_to_message=fox)
    texts = await answers(fake, GROUP, 2)
    assert texts[1].startswith(NONE_LINE) and GUESS_LINE in texts[1]
    await fake.push(chat=chat, **{"from": user(BOB, "Bob")}, caption="/classify",
                    photo=fake.photo([(64, 64, sample(samples_dir, "cat"))]))
    assert (await answers(fake, GROUP, 3))[2].startswith("<b>cat</b> — ")


async def test_a_chat_that_turned_it_off_and_the_game(bot_settings: BotSettings, fake: FakeTelegram,
                                                      samples_dir: Path) -> None:
    async with running_bot(replace(bot_settings, open_set=False)) as application:
        await send_private(fake, sample(samples_dir, "fox"), caption="cat, dog")
        [closed] = await answers(fake, ANN, 1)
        assert closed.startswith(("<b>cat</b> — ", "<b>dog</b> — "))  # the forced choice of before
        # The chat turns it on: the negatives, not encoded at start, go through the worker's chunked path.
        question = await asked(fake, private_chat(ANN), "/settings", by=ANN)
        await pressed(fake, question, replies.option_button(speaker("en"), "open_set", False), ANN)
        worker = application.bot_data[SERVICES_KEY].worker
        encoded_before = worker.stats.labels_encoded
        await send_private(fake, sample(samples_dir, "fox"), caption="cat, dog")
        await fake.wait_for(lambda: len(fake.sent(ANN)) >= 3)
        assert str(fake.sent(ANN)[-1]["text"]).startswith(NONE_LINE)
        assert worker.stats.labels_encoded - encoded_before >= len(NEGATIVE_LABELS)
    async with running_bot(bot_settings):
        chat = group_chat(GROUP)
        picture = await fake.push(chat=chat, **{"from": user(ANN)},
                                  photo=fake.photo([(64, 64, sample(samples_dir, "other", 3))]))
        await fake.push(chat=chat, **{"from": user(ANN)}, text="/game", reply_to_message=picture)
        [question] = await answers(fake, GROUP, 1)
        assert question.startswith("Which animal does the AI see?")  # the round's options are the question
