"""bot/transport/delivery.py: what never left is sent once more; what may have arrived is neither repeated
nor apologised for."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.request import HTTPXRequest

from bot.transport.delivery import may_have_arrived, send, sent_nothing
from tests.fake_telegram import FakeTelegram


def failed(error: NetworkError, cause: BaseException | None) -> NetworkError:
    """error as python-telegram-bot raises it: `raise error from cause`."""
    error.__cause__ = cause
    return error


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port that refuses connections: bound, never listening, and kept bound so nobody else takes it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


@pytest.mark.parametrize("cause", [httpx.PoolTimeout("pool"), httpx.ConnectError("refused"),
                                   httpx.ConnectTimeout("connect")])
def test_failures_before_the_first_byte_never_left(cause: Exception) -> None:
    for error in (NetworkError("x"), TimedOut("x")):
        assert sent_nothing(failed(error, cause))
        assert not may_have_arrived(failed(error, cause))


@pytest.mark.parametrize("cause", [httpx.ReadTimeout("read"), httpx.WriteTimeout("write"),
                                   httpx.RemoteProtocolError("dropped"), httpx.ReadError("reset"), None])
def test_failures_after_writing_may_have_arrived(cause: Exception | None) -> None:
    for error in (NetworkError("x"), TimedOut("x")):
        assert may_have_arrived(failed(error, cause))
        assert not sent_nothing(failed(error, cause))


def test_telegrams_answers_and_other_errors_are_neither() -> None:
    for error in (BadRequest("Bad Request: chat not found"), failed(BadRequest("x"), httpx.ReadTimeout("read")),
                  Forbidden("blocked"), ValueError("not a network error")):
        assert not may_have_arrived(error), error
    for error in (failed(BadRequest("x"), httpx.ReadTimeout("read")), Forbidden("blocked")):
        assert not sent_nothing(error), error
    plain = ValueError("not sent")
    plain.__cause__ = httpx.ConnectError("refused")
    assert not sent_nothing(plain)  # only a NetworkError is python-telegram-bot's word for "not sent"


async def test_real_failures_are_told_apart(fake: FakeTelegram, closed_port: int) -> None:
    nowhere = Bot(fake.token, base_url=f"http://127.0.0.1:{closed_port}/bot")
    with pytest.raises(NetworkError) as refused:
        await nowhere.send_message(1, "hello")
    assert sent_nothing(refused.value) and not may_have_arrived(refused.value)

    fake.stalls["sendMessage"] = [2.0]
    slow = Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.5))
    async with slow:
        with pytest.raises(TimedOut) as late:
            await slow.send_message(1, "hello")
    assert may_have_arrived(late.value) and not sent_nothing(late.value)
    assert [c.params["text"] for c in fake.methods("sendMessage")] == ["hello"]  # it did arrive

    # One connection, held by a stalled request: the next one never gets a connection to leave on.
    fake.stalls["sendMessage"] = [2.0]
    narrow = Bot(fake.token, base_url=fake.base_url,
                 request=HTTPXRequest(connection_pool_size=1, pool_timeout=0.2, read_timeout=5))
    async with narrow:
        holding = asyncio.ensure_future(narrow.send_message(1, "first"))
        await fake.wait_for(lambda: len(fake.methods("sendMessage")) == 2)
        with pytest.raises(NetworkError) as pooled:
            await narrow.send_message(1, "second")
        await holding
    assert sent_nothing(pooled.value) and not may_have_arrived(pooled.value)
    assert [c.params["text"] for c in fake.methods("sendMessage")] == ["hello", "first"]


class Attempts:
    """A send that fails with the given errors in turn, then succeeds."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.tries = 0

    async def __call__(self) -> str:
        self.tries += 1
        if self.errors:
            raise self.errors.pop(0)
        return f"sent on try {self.tries}"


async def test_send_retries_once_what_never_left(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.transport.delivery")
    attempts = Attempts(failed(NetworkError("no connection"), httpx.ConnectError("refused")))
    assert await send(attempts) == "sent on try 2"
    assert caplog.messages == ["A request to Telegram was not sent (no connection); sending it once more"]

    twice = failed(NetworkError("still none"), httpx.ConnectError("refused"))
    attempts = Attempts(failed(NetworkError("no connection"), httpx.ConnectError("refused")), twice)
    with pytest.raises(NetworkError) as raised:
        await send(attempts)
    assert raised.value is twice and attempts.tries == 2  # once more, not forever


@pytest.mark.parametrize("error", [failed(TimedOut("late"), httpx.ReadTimeout("read")), BadRequest("no such chat"),
                                   failed(NetworkError("reset"), httpx.ReadError("reset")), ValueError("ours")])
async def test_send_never_repeats_what_may_have_arrived_or_was_refused(error: Exception,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.transport.delivery")
    attempts = Attempts(error)
    with pytest.raises(type(error)) as raised:
        await send(attempts)
    assert raised.value is error and attempts.tries == 1
    assert "once more" not in caplog.text


async def test_send_returns_the_first_answer() -> None:
    attempts = Attempts()
    assert await send(attempts) == "sent on try 1" and attempts.tries == 1
