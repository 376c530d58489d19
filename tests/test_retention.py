"""What the bot keeps shrinks again: closed game rounds and their votes go ROUNDS_KEEP_DAYS after
they ended (scores stay), and /forget leaves the chat's words in no file the bot writes."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from bot.settings import BotSettings
from bot.words import replies
from bot.words.i18n import speaker
from tests.conftest import idle, running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user
from tests.test_chatlife import DAY_SECONDS, Clock, say, services_of
from tests.test_forget import asked, pressed
from tests.test_game import buttons, edits, press, start_round

ANN, BOB = 901, 902
GROUP = -100931
EN = speaker("en")
UNIQUE = "quokkaroo"  # a label no other file could hold by chance


def count(database: Path, table: str) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_closed_rounds_and_votes_go_after_rounds_keep_days(bot_settings: BotSettings, fake: FakeTelegram,
                                                                 samples_dir: Path) -> None:
    clock = Clock()
    settings = replace(bot_settings, rounds_keep_days=30, clock=clock)
    database = settings.database_path
    async with running_bot(settings) as bot:
        chats = services_of(bot).chats
        for _ in range(2):
            round_message = await start_round(fake, samples_dir, "fox", by=ANN)
            await press(fake, round_message, BOB, next(iter(buttons(round_message).values())), "Bob")
            await fake.push(chat=group_chat(round_message["chat"]["id"]), **{"from": user(ANN)}, text="/reveal")
            await fake.wait_for(lambda m=round_message: any("The AI saw" in e["text"]
                                                            for e in edits(fake, m["message_id"])))
        with sqlite3.connect(database) as db:  # the first round ended 40 days ago, the second 20
            db.execute("UPDATE rounds SET ends_at = ends_at - ? WHERE id = (SELECT min(id) FROM rounds)",
                       (40 * DAY_SECONDS,))
            db.execute("UPDATE rounds SET ends_at = ends_at - ? WHERE id = (SELECT max(id) FROM rounds)",
                       (20 * DAY_SECONDS,))
        assert (count(database, "rounds"), count(database, "votes")) == (2, 2)
        scores = count(database, "scores")
        await chats.sweep()
        assert (count(database, "rounds"), count(database, "votes"), count(database, "scores")) == (1, 1, scores)
        clock.move(11)
        await chats.sweep()
        assert (count(database, "rounds"), count(database, "votes"), count(database, "scores")) == (0, 0, scores)
        await idle(fake, bot)


def files_holding(folder: Path, text: str) -> list[Path]:
    needle = text.encode()
    return sorted(path for path in folder.rglob("*") if path.is_file() and needle in path.read_bytes())


async def test_forget_leaves_the_chats_words_in_no_file_the_bot_writes(bot_settings: BotSettings,
                                                                       fake: FakeTelegram, samples_dir: Path,
                                                                       tmp_path: Path) -> None:
    """The database, its write-ahead log and the caches (text and image) hold no label after /forget,
    while the bot runs and after it stopped."""
    chat = private_chat(ANN)
    async with running_bot(bot_settings) as bot:
        assert (await say(fake, chat, f"/labels {UNIQUE}, fox, dog", by=ANN)).startswith("Labels set")
        await fake.push(chat=chat, **{"from": user(ANN)}, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await idle(fake, bot)
        services_of(bot).classifier.cache.flush()  # the text cache's file holds the new labels now
        before = files_holding(tmp_path, UNIQUE)  # the database or its log, and nothing else
        assert before and all(path.name.startswith(bot_settings.database_path.name) for path in before)
        question = await asked(fake, chat, "/forget", by=ANN)
        _, said = await pressed(fake, question, replies.forget_button(EN), ANN)
        assert said is not None and said.startswith("Deleted everything")
        assert files_holding(tmp_path, UNIQUE) == []
        assert list((tmp_path / "cache").glob("text-embeddings-*.pt"))  # the cache was written, without it
    assert files_holding(tmp_path, UNIQUE) == []
