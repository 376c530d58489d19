"""Abuse and load: rate limits, Telegram's errors, a burst of a thousand photos."""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import replace
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.settings import BotSettings
from bot.telemetry.looplag import LoopLag
from tests.conftest import REPORT_FILE, idle, running_bot, sample
from tests.fake_telegram import FakeTelegram, private_chat, user

ANN, BOB = 801, 802


def current_rss_mb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 2**20


async def photo_from(fake: FakeTelegram, who: int, data: bytes) -> dict[str, object]:
    return await fake.push(chat=private_chat(who), **{"from": user(who)}, photo=fake.photo([(64, 64, data)]))


async def test_rate_limit_warns_once_then_stays_silent(bot_settings: BotSettings, fake: FakeTelegram,
                                                       samples_dir: Path) -> None:
    async with running_bot(replace(bot_settings, rate_limit_per_minute=3)) as app:
        for _ in range(6):
            await photo_from(fake, ANN, sample(samples_dir, "cat"))
        await photo_from(fake, BOB, sample(samples_dir, "dog"))
        await fake.wait_for(lambda: len(fake.sent(ANN)) >= 4 and len(fake.sent(BOB)) == 1)
        await idle(fake, app)  # the silent ones had every chance to speak up wrongly
        texts = [a["text"] for a in fake.sent(ANN)]
        assert len(texts) == 4
        assert sum(t.startswith("<b>cat</b>") for t in texts) == 3
        assert sum("faster than I can look" in t for t in texts) == 1
        assert fake.sent(BOB)[0]["text"].startswith("<b>dog</b>")


async def test_telegram_errors_are_retried_and_answers_arrive_once(
    bot: Application, fake: FakeTelegram, samples_dir: Path,  # type: ignore[type-arg]
) -> None:
    fake.failures["sendMessage"] = [(429, "Too Many Requests: retry after 1", 1)] * 2
    fake.failures["getFile"] = [(500, "Internal Server Error", None)]
    first = await photo_from(fake, ANN, sample(samples_dir, "fox"))
    await fake.wait_for(lambda: len(fake.sent(ANN)) >= 3)  # two refused with 429, the third delivered
    await idle(fake, bot)
    assert len(fake.sent(ANN)) == 3
    assert len(fake.methods("getFile")) == 2  # the 500 was retried
    answers = [c for c in fake.methods("sendMessage") if c.result is not None]
    assert len(answers) == 1 and str(answers[0].params["text"]).startswith("<b>fox</b>")
    assert json.loads(answers[0].params["reply_parameters"])["message_id"] == first["message_id"]

    fake.failures["getFile"] = [(500, "Internal Server Error", None)] * 3
    await photo_from(fake, BOB, sample(samples_dir, "fox"))
    await fake.wait_for(lambda: len(fake.sent(BOB)) == 1)
    await idle(fake, bot)
    assert len(fake.sent(BOB)) == 1 and len(fake.methods("getFile")) == 5  # tried, and tried once more
    assert fake.sent(BOB)[0]["text"] == "Sorry, I couldn't download that picture from Telegram; please send it again."


@pytest.mark.slow
async def test_a_thousand_photos_from_a_hundred_chats(bot_settings: BotSettings, fake: FakeTelegram,
                                                      samples_dir: Path, patience: float) -> None:
    # Every photo must be answered: no sender limit, and no answer dropped as late (Telegram's pacing
    # of 30 messages a second alone takes 33 s here, longer on a one-core machine than REPLY_MAX_AGE_SECONDS).
    settings = replace(bot_settings, rate_limit_per_minute=0, reply_max_age_seconds=3600)
    data = [sample(samples_dir, label) for label in ("cat", "dog", "fox", "bear", "duck")]
    rss_at_start = current_rss_mb()
    peak = [rss_at_start]

    async def sample_memory() -> None:
        while True:
            peak[0] = max(peak[0], current_rss_mb())
            await asyncio.sleep(0.05)

    sampler = asyncio.ensure_future(sample_memory())
    async with running_bot(settings) as app, LoopLag() as lag:
        expected: dict[int, int] = {}  # message id -> chat id
        started = time.monotonic()
        for i in range(1000):
            chat = 10_000 + i % 100
            message = await photo_from(fake, chat, data[i % len(data)])
            expected[int(message["message_id"])] = chat  # type: ignore[call-overload]
        # Telegram's flood limit paces the answers at 30 a second; the model's time is added on top.
        await fake.wait_for(lambda: len(fake.sent()) >= 1000, timeout=patience * (1000 / 30 + 30))
        elapsed = time.monotonic() - started
        await idle(fake, app)  # a duplicate or an apology would have shown up by now
    sampler.cancel()
    answers = fake.sent()
    assert len(answers) == 1000
    quoted = [int(a["reply_parameters"]["message_id"]) for a in answers]
    assert sorted(quoted) == sorted(expected)  # each once: none lost, none duplicated
    for answer, message_id in zip(answers, quoted, strict=True):
        assert int(answer["chat_id"]) == expected[message_id]
        assert str(answer["text"]).startswith("<b>")  # a prediction: no apology, no refusal
    lag_p99 = lag.percentile_ms(99)
    REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    REPORT_FILE.write_text(f"load test: 1000 photo updates from 100 chats answered in {elapsed:.1f} s "
                           f"({1000 / elapsed:.0f}/s, under the Bot API's 30 messages/s flood limit); "
                           f"loop_lag_p99_ms {lag_p99:.1f} (max {max(lag.lags_ms, default=0):.1f}); "
                           f"memory of the test process (bot and test together) {rss_at_start} MB before, "
                           f"{peak[0]} MB at the peak\n")
    # 223-254 ms measured on a quiet 2-core AMD EPYC this round (1,000 updates at once, each through the
    # rate-limit gate, the open-set answer and its Where? button); the bound grows on slower machines.
    bound = max(400.0, 130 * patience)
    assert lag_p99 < bound, f"the event loop woke up {lag_p99:.0f} ms late (p99) under load (bound {bound:.0f})"


async def test_an_answer_that_times_out_after_delivery_gets_no_apology(
    bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # Telegram takes and shows the answer, but its reply comes after the bot stopped waiting.
    fake.stalls["sendMessage"] = [4.0]
    async with running_bot(replace(bot_settings, read_timeout_seconds=1.0)) as app:
        await photo_from(fake, ANN, sample(samples_dir, "fox"))
        await fake.wait_for(lambda: "not apologising" in caplog.text)
        await photo_from(fake, ANN, sample(samples_dir, "cat"))
        await fake.wait_for(lambda: len(fake.sent(ANN)) >= 2)
        await idle(fake, app)  # an apology or a second answer would have shown up by now
    texts = [str(a["text"]) for a in fake.sent(ANN)]
    assert len(texts) == 2, texts  # the fox answer (delivered, reply lost) and the cat answer: nothing else
    assert texts[0].startswith("<b>fox</b>") and texts[1].startswith("<b>cat</b>")
