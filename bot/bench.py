"""The bot's part of `python -m classifier bench`: a photo through the real Application,
against the fake Bot API server from the test suite, until the answer is sent."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bot.app import build_application, started
from bot.settings import BotSettings
from classifier.bench import PHOTO_SIZE, test_jpeg
from classifier.settings import ClassifierSettings

RUNS = 30


async def bot_e2e_p50_ms(classifier_settings: ClassifierSettings) -> float:
    """Median milliseconds from a photo update being offered to getUpdates to the bot's sendMessage."""
    from tests.fake_telegram import FakeTelegram, private_chat, user  # the test suite's fake server

    fake = FakeTelegram()
    await fake.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = BotSettings(token=fake.token, classifier=replace(classifier_settings),
                                   base_url=fake.base_url, base_file_url=fake.base_file_url,
                                   database_path=Path(folder) / "bench.sqlite3", rate_limit_per_minute=0,
                                   poll_timeout_seconds=1)
            photo = test_jpeg(PHOTO_SIZE)
            times = []
            async with started(build_application(settings)):
                for i in range(RUNS + 1):
                    sizes = fake.photo([(PHOTO_SIZE[0], PHOTO_SIZE[1], photo)])
                    t0 = time.perf_counter()
                    await fake.push(chat=private_chat(1), **{"from": user(1)}, photo=sizes)
                    await fake.wait_for(lambda n=i + 1: len(fake.sent(1)) >= n)  # type: ignore[misc]
                    if i:  # the first one warms up connections
                        times.append((time.perf_counter() - t0) * 1000)
            return statistics.median(times)
    finally:
        await fake.stop()
