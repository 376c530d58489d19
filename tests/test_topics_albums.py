"""Forum topics and albums, through the real Application and the fake Bot API.

Topics: each topic plays its own round, every answer (the reveal's fallback included) goes to the
topic, scores stay per chat. Albums: the caption on an album's first message applies to all of its
photos, which arrive as separate updates, late, out of order and between other chats' updates.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.settings import BotSettings
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, forum, group_chat, private_chat, user
from tests.test_chatlife import say
from tests.test_game import buttons, press

ANN, BOB = 801, 802
FORUM = -100555
ALBUM_LABELS = ("pig", "duck", "lion")


async def round_in_topic(fake: FakeTelegram, samples_dir: Path, topic: int, label: str) -> dict[str, Any]:
    """Ann replies /game to a picture in a topic; returns the bot's round message."""
    chat = forum(FORUM)
    where = {"message_thread_id": topic, "is_topic_message": True}
    picture = await fake.push(chat=chat, **{"from": user(ANN)}, **where,
                              photo=fake.photo([(64, 64, sample(samples_dir, label))]))
    before = len(fake.sent(FORUM))
    await fake.push(chat=chat, **{"from": user(ANN)}, **where, text="/game", reply_to_message=picture)
    await fake.wait_for(lambda: len(fake.sent(FORUM)) > before)
    call = next(c for c in reversed(fake.methods("sendMessage")) if int(c.params["chat_id"]) == FORUM)
    return dict(call.result) | {"reply_markup": json.loads(call.params.get("reply_markup") or "null")}


async def test_two_topics_play_at_once_and_everything_goes_to_its_topic(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    chat = forum(FORUM)
    async with running_bot(bot_settings):
        first = await round_in_topic(fake, samples_dir, 11, "fox")
        second = await round_in_topic(fake, samples_dir, 22, "pig")
        assert (first["message_thread_id"], second["message_thread_id"]) == (11, 22)
        assert first["text"] == second["text"] == "Which animal does the AI see?\nVotes: 0"
        again = await round_in_topic(fake, samples_dir, 11, "cat")
        assert again["text"].startswith("A round is already running") and again["message_thread_id"] == 11
        await press(fake, first, BOB, buttons(first)["fox"], "Bob")
        await press(fake, second, BOB, buttons(second)["pig"], "Bob")
        await fake.push(chat=chat, **{"from": user(ANN)}, message_thread_id=11, is_topic_message=True,
                        text="/reveal")
        await fake.wait_for(lambda: any("The AI saw" in str(c.params["text"]) for c in fake.methods("editMessageText")))
        fake.failures["editMessageText"] = [(400, "Bad Request: message to edit not found", None)]  # deleted
        await fake.push(chat=chat, **{"from": user(ANN)}, message_thread_id=22, is_topic_message=True,
                        text="/reveal")
        await fake.wait_for(lambda: any("The AI saw" in a["text"] for a in fake.sent(FORUM)))
        fallback = next(a for a in fake.sent(FORUM) if "The AI saw" in a["text"])
        assert int(fallback["message_thread_id"]) == 22 and "<b>pig</b>" in fallback["text"]
        top = await say(fake, chat, "/top")  # outside the topics: the chat's scores
        assert top == "<b>Leaderboard</b>\n1. Bob — 2"


async def album(fake: FakeTelegram, samples_dir: Path, chat: dict[str, Any], group_id: str,
                labels: tuple[str, ...], caption: str | None = None, by: int = ANN) -> dict[str, Any]:
    """Push one photo of an album; returns the message."""
    extra: dict[str, Any] = {"caption": caption} if caption is not None else {}
    return await fake.push(chat=chat, **{"from": user(by)}, media_group_id=group_id, **extra,
                           photo=fake.photo([(64, 64, sample(samples_dir, labels[0]))]))


def names_in(answer: dict[str, Any]) -> set[str]:
    return {line.split(" — ")[0].removeprefix("<b>").removesuffix("</b>") for line in answer["text"].split("\n")}


async def answered(fake: FakeTelegram, chat_id: int, message_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Wait until each message got its answer, quoting it; returns message id -> answer."""
    def found() -> dict[int, dict[str, Any]]:
        return {a["reply_parameters"]["message_id"]: a for a in fake.sent(chat_id) if "reply_parameters" in a}

    await fake.wait_for(lambda: set(message_ids) <= found().keys())
    return found()


async def delivered(fake: FakeTelegram, *messages: dict[str, Any]) -> None:
    """Wait until the bot has fetched these messages (they are being handled, not yet answered)."""
    await fake.wait_for(lambda: all(fake.pushed[m["message_id"]] in fake.delivered for m in messages))


async def test_an_albums_caption_applies_to_photos_that_come_late_and_out_of_order(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path, patience: float) -> None:
    async with running_bot(replace(bot_settings, album_wait_seconds=20 * patience)):
        me, other = private_chat(ANN), private_chat(BOB)
        # The album's second and third photos arrive first, and the bot starts on them.
        later = [await album(fake, samples_dir, me, "A1", ("duck",)),
                 await album(fake, samples_dir, me, "A1", ("lion",))]
        await delivered(fake, *later)
        # Another chat's photo comes between them and is answered meanwhile.
        between = await fake.push(chat=other, **{"from": user(BOB)},
                                  photo=fake.photo([(64, 64, sample(samples_dir, "cat"))]))
        await answered(fake, BOB, [between["message_id"]])
        assert not fake.sent(ANN)  # the album's photos are still waiting for its caption
        first = await album(fake, samples_dir, me, "A1", ("pig",), caption=", ".join(ALBUM_LABELS))
        found = await answered(fake, ANN, [m["message_id"] for m in (first, *later)])
        assert all(names_in(found[m["message_id"]]) == set(ALBUM_LABELS) for m in (first, *later))
        assert names_in(fake.sent(BOB)[0]) != set(ALBUM_LABELS)  # the other chat's photo kept its labels


async def test_an_albums_classify_or_game_caption_in_a_group(bot_settings: BotSettings, fake: FakeTelegram,
                                                            samples_dir: Path, patience: float) -> None:
    group = group_chat(-100556)
    async with running_bot(replace(bot_settings, album_wait_seconds=20 * patience)):
        later = await album(fake, samples_dir, group, "G1", ("lion",))
        first = await album(fake, samples_dir, group, "G1", ("duck",), caption="/classify " + ", ".join(ALBUM_LABELS))
        found = await answered(fake, group["id"], [later["message_id"], first["message_id"]])
        assert names_in(found[later["message_id"]]) == names_in(found[first["message_id"]]) == set(ALBUM_LABELS)
        sent = len(fake.sent(group["id"]))
        played = await album(fake, samples_dir, group, "G2", ("pig",), caption="/game")
        rest = [await album(fake, samples_dir, group, "G2", ("cat",)), await album(fake, samples_dir, group, "G2",
                                                                                  ("dog",))]
        # /labels waits for every earlier update of the chat (bot/transport/ordering.py): after its answer,
        # all are done.
        assert (await say(fake, group, "/labels")).startswith("Labels (the default set")
        answers = fake.sent(group["id"])[sent:]
        assert [a["reply_parameters"]["message_id"] for a in answers[:-1]] == [played["message_id"]]
        assert answers[0]["text"].startswith("Which animal does the AI see?") and len(rest) == 2


async def test_an_album_without_a_caption(bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    group = group_chat(-100557)
    async with running_bot(replace(bot_settings, album_wait_seconds=0.2)):
        photos = [await album(fake, samples_dir, private_chat(ANN), "P1", (label,)) for label in ("cat", "dog")]
        found = await answered(fake, ANN, [m["message_id"] for m in photos])  # each answered with the default set
        assert all(len(names_in(found[m["message_id"]])) == 3 for m in photos)
        for label in ("cat", "dog"):  # a group's photos without a command are not for the bot
            await album(fake, samples_dir, group, "G3", (label,))
        assert (await say(fake, group, "/labels")).startswith("Labels (the default set")
        assert len(fake.sent(group["id"])) == 1
