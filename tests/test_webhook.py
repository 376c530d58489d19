"""The webhook's edges: the secret checked in constant time before the body is read, a body over the
limit refused without reading it, and a right update handled as if it came from long polling."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import Application

from bot.settings import BotSettings
from bot.transport.webhook import PATH, SECRET_HEADER, WebhookServer
from tests.conftest import sample
from tests.fake_telegram import FakeTelegram, private_chat, user

ANN = 7301
SECRET = "s3cret-Token_1"
LIMIT = BotSettings.webhook_max_body_kb * 1024
HUGE = 64 * 1024 * 1024


@pytest.fixture
async def webhook(bot: Application) -> AsyncIterator[int]:  # type: ignore[type-arg]
    """A webhook server beside the running bot's polling, on a free loopback port."""
    server = WebhookServer(bot, SECRET, "127.0.0.1", 0, LIMIT)
    server.start()
    try:
        yield server.port
    finally:
        await server.stop()


def request(port: int, body: bytes, secret: str | None = SECRET, length: int | None = None) -> int:
    """POST the body with these headers and return the status; the body goes only when it is not empty."""
    headers = [f"POST {PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
               f"Content-Length: {len(body) if length is None else length}", "Connection: close"]
    if secret is not None:
        headers.append(f"{SECRET_HEADER}: {secret}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall("\r\n".join(headers).encode() + b"\r\n\r\n" + body)
        status_line = connection.makefile("rb").readline()
    return int(status_line.split()[1])


def update(message_id: int, **message: Any) -> bytes:
    """An update as Telegram sends it now (an old one is dropped unanswered: REPLY_MAX_AGE_SECONDS)."""
    return json.dumps({"update_id": message_id, "message": {
        "message_id": message_id, "date": int(time.time()), "chat": private_chat(ANN), "from": user(ANN),
        **message}}).encode()


def largest_update() -> bytes:
    """About the largest update Telegram sends: a 4096-character message of emoji (12 bytes each as JSON
    escapes), with 100 entities, quoting a 1024-character caption with its entities, and 100 URL buttons."""
    text = "\U0001f98a" * 2048  # 2 UTF-16 units each: 4096 characters as Telegram counts
    entities = [{"type": "text_link", "offset": 2 * i, "length": 2, "url": "https://example.org/" + "a" * 2000}
                for i in range(100)]
    quoted = {"message_id": 1, "date": 0, "chat": private_chat(ANN), "from": user(ANN), "caption": "\u2028" * 1024,
              "caption_entities": entities[:50], "photo": [{"file_id": "x" * 100, "file_unique_id": "y" * 20,
                                                            "width": 1280, "height": 1280}] * 4}
    buttons = [[{"text": "\U0001f98a" * 32, "url": "https://example.org/" + "b" * 2000}] for _ in range(100)]
    return update(2, text=text, entities=entities, reply_to_message=quoted,
                  reply_markup={"inline_keyboard": buttons})


async def test_only_the_right_secret_gets_an_update_handled(webhook: int, fake: FakeTelegram) -> None:
    body = update(1, text="/start")
    assert await asyncio.to_thread(request, webhook, body, None) == 403
    assert await asyncio.to_thread(request, webhook, body, "wrong") == 403
    assert await asyncio.to_thread(request, webhook, body, SECRET[:-1] + "2") == 403
    assert await asyncio.to_thread(request, webhook, body, SECRET) == 200
    await fake.wait_for(lambda: len(fake.sent(ANN)) >= 1)
    assert len(fake.sent(ANN)) == 1  # the forged ones were never handled


async def test_a_picture_through_the_webhook_is_answered(webhook: int, fake: FakeTelegram, samples_dir: Path) -> None:
    body = update(3, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    assert await asyncio.to_thread(request, webhook, body) == 200
    await fake.wait_for(lambda: len(fake.sent(ANN)) >= 1)
    assert fake.sent(ANN)[0]["text"].startswith("<b>fox</b>")


async def test_the_largest_update_fits_with_room_and_garbage_is_refused(webhook: int, fake: FakeTelegram) -> None:
    body = largest_update()
    assert len(body) < 0.6 * LIMIT, f"the largest update is {len(body)} bytes"  # 587,234 bytes
    assert await asyncio.to_thread(request, webhook, body) == 200
    await fake.wait_for(lambda: len(fake.sent(ANN)) >= 1)  # a text in a private chat: answered
    assert await asyncio.to_thread(request, webhook, b"{not json") == 400
    assert await asyncio.to_thread(request, webhook, b"[1, 2]") == 400


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def push_body(port: int, secret: str) -> int:
    """Announce 64 MB and send as much of it as the server takes; return the bytes it took."""
    chunk = b"x" * (1024 * 1024)
    sent = 0
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {HUGE}\r\n{SECRET_HEADER}: {secret}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(head)
        try:
            while sent < HUGE:
                connection.sendall(chunk)
                sent += len(chunk)
        except OSError:  # reset, broken pipe, or a full window the server never reads
            pass
    return sent


async def test_an_oversized_body_is_refused_unread(webhook: int) -> None:
    assert await asyncio.to_thread(request, webhook, b"", SECRET, HUGE) == 413
    assert await asyncio.to_thread(request, webhook, b"", "wrong", HUGE) == 403  # the secret comes first
    assert await asyncio.to_thread(request, webhook, b"", SECRET, LIMIT + 1) == 413

    base, peak, done = rss(), [0], threading.Event()

    def sample_rss() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], rss())

    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    try:
        taken = [await asyncio.to_thread(push_body, webhook, secret) for secret in (SECRET, "wrong")]
    finally:
        done.set()
        sampler.join()
    # Whatever the kernel's socket buffers hold, never the 64 MB: the server stopped reading.
    assert max(taken) < HUGE // 2, taken
    assert peak[0] - base < 32 * 1024 * 1024, f"memory grew by {(peak[0] - base) / 2**20:.0f} MB"


def test_the_webhook_listens_on_loopback_unless_told() -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:x", "WEBHOOK_URL": "https://bot.example/telegram", "WEBHOOK_SECRET": SECRET}
    defaults = BotSettings.from_env(env)
    assert (defaults.webhook_listen, defaults.webhook_max_body_kb) == ("127.0.0.1", 1024)
    told = BotSettings.from_env(env | {"WEBHOOK_LISTEN": "0.0.0.0", "WEBHOOK_MAX_BODY_KB": "256"})
    assert (told.webhook_listen, told.webhook_max_body_kb) == ("0.0.0.0", 256)
