"""Where the AI looked, end to end: the "Where?" button, /where, who may press it in groups, answers
too old to explain, and the map after a game's reveal, through the real Application and the fake Bot
API, with the tiny model. Every map is a real JPEG sent with sendPhoto."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from PIL import Image
from telegram.ext import Application

from bot.conversation.maps import WHERE_PREFIX
from bot.conversation.services import SERVICES_KEY
from bot.settings import BotSettings
from bot.state.options import ChatOption
from bot.words import replies
from bot.words.i18n import speaker
from classifier.pictures.overlay import LONG_SIDE_MAX, display_size
from tests.conftest import idle, running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user
from tests.test_game import start_round

ANN, BOB = 701, 702
GROUP = -100701
EN = speaker("en")
_presses = itertools.count(1)


def last_answer(fake: FakeTelegram, chat_id: int) -> dict[str, Any]:
    """The latest message the bot sent to chat_id (sendMessage), as Telegram returned it, with its buttons."""
    call = next(c for c in reversed(fake.methods("sendMessage")) if int(c.params["chat_id"]) == chat_id)
    return dict(call.result) | {"reply_markup": json.loads(call.params.get("reply_markup") or "null")}


async def answered(fake: FakeTelegram, chat_id: int, **message: Any) -> dict[str, Any]:
    """Push a message and wait for the bot's next answer in that chat."""
    before = len(fake.sent(chat_id))
    await fake.push(**message)
    await fake.wait_for(lambda: len(fake.sent(chat_id)) > before)
    return last_answer(fake, chat_id)


async def press_where(fake: FakeTelegram, answer: dict[str, Any], who: int) -> dict[str, Any]:
    """Press "Where?" under answer; returns the answerCallbackQuery call's parameters."""
    query_id = f"w{next(_presses)}"
    await fake.push_update({"callback_query": {
        "id": query_id, "from": user(who), "chat_instance": "ci", "data": WHERE_PREFIX,
        "message": {"message_id": answer["message_id"], "date": answer["date"], "chat": answer["chat"],
                    "text": answer.get("text", "")},
    }})
    await fake.wait_for(lambda: any(c.params.get("callback_query_id") == query_id
                                    for c in fake.methods("answerCallbackQuery")))
    return next(c.params for c in fake.methods("answerCallbackQuery") if c.params["callback_query_id"] == query_id)


def where_buttons(answer: dict[str, Any]) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for row in (answer["reply_markup"] or {}).get("inline_keyboard", [])
            for b in row]


def check_jpeg(photo: dict[str, Any], picture_size: tuple[int, int]) -> Image.Image:
    """The upload is a real JPEG: the picture's shape at display size, with the colour bar below."""
    image = Image.open(io.BytesIO(photo["photo"]))
    assert image.format == "JPEG"
    width, height = display_size(*picture_size)
    assert image.width == width and height < image.height <= height * 1.1
    assert max(image.size) <= LONG_SIDE_MAX * 1.1
    return image


async def test_where_under_a_private_answer_sends_the_picture_with_its_map(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    photo = fake.photo([(64, 64, sample(samples_dir, "fox"))])
    answer = await answered(fake, ANN, chat=private_chat(ANN), **{"from": user(ANN)}, photo=photo)
    assert answer["text"].startswith("<b>fox</b>") or "fox" in answer["text"].split("\n")[0]
    assert where_buttons(answer) == [("Where?", WHERE_PREFIX)]
    assert fake.downloads.count(photo[0]["file_id"]) == 1
    await press_where(fake, answer, ANN)
    await fake.wait_for(lambda: len(fake.photos(ANN)) == 1)
    [sent] = fake.photos(ANN)
    check_jpeg(sent, (64, 64))
    assert sent["reply_parameters"]["message_id"] == answer["message_id"]
    assert sent["caption"] == replies.where_caption(EN, "fox")
    assert fake.downloads.count(photo[0]["file_id"]) == 2  # downloaded again: the picture was not kept


async def test_a_wide_picture_keeps_its_shape_and_outlines_the_crop(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    wide = Image.new("RGB", (192, 64), (230, 230, 230))
    wide.paste(Image.open(io.BytesIO(sample(samples_dir, "duck"))).convert("RGB"), (64, 0))
    data = io.BytesIO()
    wide.save(data, format="PNG")
    answer = await answered(fake, ANN, chat=private_chat(ANN), **{"from": user(ANN)},
                            document=fake.document(data.getvalue(), "wide.png", "image/png"))
    await press_where(fake, answer, ANN)
    await fake.wait_for(lambda: len(fake.photos(ANN)) == 1)
    image = check_jpeg(fake.photos(ANN)[0], (192, 64)).convert("RGB")
    assert image.width == 640  # the long side at 640, the shape kept: 640 × 213
    left_edge = image.getpixel((640 // 3, 100))
    outside = image.getpixel((20, 100))
    assert min(left_edge) > 200  # the white outline of the centre square the model saw
    assert max(outside) < 140  # dimmed outside it


async def test_where_as_a_command_in_reply_or_alone(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                    samples_dir: Path) -> None:
    chat, who = private_chat(ANN), {"from": user(ANN)}
    first = await answered(fake, ANN, chat=chat, **who, photo=fake.photo([(64, 64, sample(samples_dir, "cat"))]))
    await answered(fake, ANN, chat=chat, **who, photo=fake.photo([(64, 64, sample(samples_dir, "duck"))]))
    await fake.push(chat=chat, **who, text="/where", reply_to_message=first)
    await fake.wait_for(lambda: len(fake.photos(ANN)) == 1)
    assert fake.photos(ANN)[0]["reply_parameters"]["message_id"] == first["message_id"]
    await fake.push(chat=chat, **who, text="/where")  # the latest answer
    await fake.wait_for(lambda: len(fake.photos(ANN)) == 2)
    assert fake.photos(ANN)[1]["reply_parameters"]["message_id"] != first["message_id"]
    assert fake.photos(ANN)[1]["caption"] == replies.where_caption(EN, "duck")


async def test_in_a_group_only_the_asker_may_press(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                   samples_dir: Path) -> None:
    picture = await fake.push(chat=group_chat(GROUP), **{"from": user(ANN)},
                              photo=fake.photo([(64, 64, sample(samples_dir, "pig"))]))
    answer = await answered(fake, GROUP, chat=group_chat(GROUP), **{"from": user(ANN)}, text="/classify",
                            reply_to_message=picture)
    refused = await press_where(fake, answer, BOB)
    assert refused["text"] == replies.where_not_yours(EN)
    await press_where(fake, answer, ANN)
    await fake.wait_for(lambda: len(fake.photos(GROUP)) == 1)
    await idle(fake, bot)
    assert len(fake.photos(GROUP)) == 1  # Bob's press drew nothing


async def test_an_answer_too_old_to_explain_gets_one_sentence(bot_settings: BotSettings, fake: FakeTelegram,
                                                              samples_dir: Path) -> None:
    async with running_bot(replace(bot_settings, where_answers=1)) as application:
        chat, who = private_chat(ANN), {"from": user(ANN)}
        first = await answered(fake, ANN, chat=chat, **who, photo=fake.photo([(64, 64, sample(samples_dir, "cat"))]))
        await answered(fake, ANN, chat=chat, **who, photo=fake.photo([(64, 64, sample(samples_dir, "dog"))]))
        told = await press_where(fake, first, ANN)  # the second answer pushed it out
        assert told["text"] == replies.where_gone(EN)
        await idle(fake, application)
        assert fake.photos() == []


async def test_a_picture_seen_before_still_gets_its_map(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                        samples_dir: Path) -> None:
    photo = fake.photo([(64, 64, sample(samples_dir, "lion"))])
    await answered(fake, ANN, chat=private_chat(ANN), **{"from": user(ANN)}, photo=photo)
    again = await answered(fake, BOB, chat=private_chat(BOB), **{"from": user(BOB)}, photo=photo)
    assert fake.downloads.count(photo[0]["file_id"]) == 1  # the second answer came from the cache
    await press_where(fake, again, BOB)
    await fake.wait_for(lambda: len(fake.photos(BOB)) == 1)
    assert fake.downloads.count(photo[0]["file_id"]) == 2  # fetched for the map


async def test_the_legend_is_in_the_reader_s_language(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                      samples_dir: Path) -> None:
    chat, who = private_chat(ANN), {"from": user(ANN)}
    await answered(fake, ANN, chat=chat, **who, text="/language ru")
    answer = await answered(fake, ANN, chat=chat, **who, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    assert where_buttons(answer)[0][0] == replies.where_button(speaker("ru")) != "Where?"
    await press_where(fake, answer, ANN)
    await fake.wait_for(lambda: len(fake.photos(ANN)) == 1)
    caption = fake.photos(ANN)[0]["caption"]
    assert caption == replies.where_caption(speaker("ru"), "fox") != replies.where_caption(EN, "fox")


async def test_the_reveal_comes_first_then_its_map_and_anyone_may_ask_again(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    round_message = await start_round(fake, samples_dir, "fox", by=ANN, chat=group_chat(GROUP))
    await fake.push(chat=group_chat(GROUP), **{"from": user(ANN)}, text="/reveal")
    await fake.wait_for(lambda: len(fake.photos(GROUP)) == 1)
    calls = [c.method for c in fake.calls if c.method in ("editMessageText", "sendPhoto")]
    assert calls.index("editMessageText") < calls.index("sendPhoto")  # the text first, the map after
    reveal = next(c.params for c in fake.methods("editMessageText")
                  if int(c.params["message_id"]) == round_message["message_id"])
    assert json.loads(reveal["reply_markup"])["inline_keyboard"] == [[{"text": "Where?", "callback_data": "w"}]]
    [shown] = fake.photos(GROUP)
    assert shown["reply_parameters"]["message_id"] == round_message["message_id"]
    assert shown["caption"] == replies.where_caption(EN, round_message_answer(fake, round_message))
    check_jpeg(shown, (64, 64))
    await press_where(fake, round_message, BOB)  # not the starter: after the reveal anyone may
    await fake.wait_for(lambda: len(fake.photos(GROUP)) == 2)


def round_message_answer(fake: FakeTelegram, round_message: dict[str, Any]) -> str:
    """The AI's answer, as the reveal names it."""
    reveal = next(c.params["text"] for c in fake.methods("editMessageText")
                  if int(c.params["message_id"]) == round_message["message_id"] and "The AI saw" in c.params["text"])
    return str(reveal.split("<b>")[1].split("</b>")[0])


async def test_no_map_at_the_reveal_when_the_chat_turned_it_off(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    await bot.bot_data[SERVICES_KEY].options.toggle(GROUP, ChatOption.REVEAL_MAP)
    round_message = await start_round(fake, samples_dir, "cat", by=ANN, chat=group_chat(GROUP))
    await fake.push(chat=group_chat(GROUP), **{"from": user(ANN)}, text="/reveal")
    await fake.wait_for(lambda: any("The AI saw" in c.params["text"] for c in fake.methods("editMessageText")))
    await idle(fake, bot)
    await press_where(fake, round_message, BOB)  # the button still works
    await fake.wait_for(lambda: len(fake.photos(GROUP)) == 1)
    await idle(fake, bot)
    assert len(fake.photos(GROUP)) == 1
