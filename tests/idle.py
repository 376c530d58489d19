"""Waiting until the bot has nothing left to do, so a test can count every message it sent."""

from __future__ import annotations

import asyncio
import time

from telegram.ext import Application

from tests.fake_telegram import FakeTelegram


def _quiet(application: Application, fake: FakeTelegram) -> bool:  # type: ignore[type-arg]
    # fake.updates keeps an update until the next getUpdates confirms it, and python-telegram-bot
    # asks again only after it has queued what it got: once it is empty, every update is queued.
    return (not fake.updates and application.update_queue.empty()
            and application.update_processor.current_concurrent_updates == 0)


async def until_idle(application: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                     timeout: float = 60.0) -> None:
    """Wait until every pushed update has been fetched and fully handled.

    Quiet must hold on two looks 20 ms apart: an update taken off the queue starts being
    processed one turn of the event loop later, and the second look comes after that turn.
    The timeout only bounds how long a broken bot keeps the suite waiting.
    """
    deadline = time.monotonic() + timeout
    while True:
        if _quiet(application, fake):
            await asyncio.sleep(0.02)
            if _quiet(application, fake):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the bot was still busy after {timeout:.0f} s")
        await asyncio.sleep(0.01)
