"""The metrics endpoint stays bounded whoever connects: idle connections cost no thread, /healthz
answers while hundreds are open, and idle or stalled clients are let go."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import replace

from bot.ops import server
from bot.settings import BotSettings
from tests.conftest import running_bot
from tests.test_ops import get, port_of

IDLE_CONNECTIONS = 300


def still_open(connection: socket.socket) -> bool:
    """Whether the server has not closed it (nothing to read yet, and no end of stream)."""
    connection.setblocking(False)
    try:
        return connection.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


async def test_health_answers_with_hundreds_of_idle_connections_and_threads_stay_few(
        bot_settings: BotSettings, patience: float) -> None:
    async with running_bot(replace(bot_settings, metrics_port=0)) as application:
        port = port_of(application)
        deadline = time.monotonic() + 20 * patience
        while (await asyncio.to_thread(get, port, "/healthz"))[0] != 200:  # until the first getUpdates answered
            assert time.monotonic() < deadline, "the bot never became healthy"
            await asyncio.sleep(0.1)
        threads = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(IDLE_CONNECTIONS)]
        try:
            started = time.monotonic()
            status, body = await asyncio.to_thread(get, port, "/healthz")
            took = time.monotonic() - started
            assert status == 200, body
            assert took < patience, f"/healthz took {took:.2f} s with {IDLE_CONNECTIONS} idle connections"
            assert threading.active_count() <= threads + server.WORKERS
        finally:
            for connection in idle:
                connection.close()


async def test_idle_and_stalled_clients_are_closed_after_the_timeout(bot_settings: BotSettings,
                                                                     patience: float) -> None:
    async with running_bot(replace(bot_settings, metrics_port=0)) as application:
        port = port_of(application)
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)
        stalled = socket.create_connection(("127.0.0.1", port), timeout=10)
        stalled.sendall(b"GET /metr")  # half a request line, then nothing
        try:
            deadline = time.monotonic() + server.CLIENT_TIMEOUT_SECONDS + patience
            while still_open(idle) or still_open(stalled):
                assert time.monotonic() < deadline, "an idle or stalled connection was kept open"
                await asyncio.sleep(0.1)
            assert (await asyncio.to_thread(get, port, "/healthz"))[0] == 200
        finally:
            idle.close()
            stalled.close()
