"""bot/ops/logs.py: the token never reaches the log, wherever in a record it hides."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import REDACTED, RedactToken, setup_logging
from tests.fake_telegram import TOKEN

URL = f"https://api.telegram.org/bot{TOKEN}/getMe"


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose one handler redacts the token, as setup_logging's does, and what it wrote."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(TOKEN))
    logger = logging.getLogger("tests.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    yield logger, out
    logger.handlers.clear()
    logger.propagate = True


def test_the_token_in_the_message_or_its_arguments(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    logger.info(f"HTTP Request: POST {URL} 200 OK")
    logger.info("HTTP Request: POST %s %d %s", URL, 200, "OK")
    logger.warning("Retrying %(url)s", {"url": URL})
    lines = out.getvalue().splitlines()
    assert lines == [f"INFO tests.logs: HTTP Request: POST https://api.telegram.org/bot{REDACTED}/getMe 200 OK"] * 2 + [
        f"WARNING tests.logs: Retrying https://api.telegram.org/bot{REDACTED}/getMe"]


def test_the_token_in_a_traceback(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    try:
        try:
            raise ConnectionError(f"cannot reach {URL}")
        except ConnectionError as exc:
            raise RuntimeError("the request failed") from exc  # the token only in the cause
    except RuntimeError:
        logger.exception("Error while handling an update")
    text = out.getvalue()
    assert TOKEN not in text
    assert f"ConnectionError: cannot reach https://api.telegram.org/bot{REDACTED}/getMe" in text
    assert "RuntimeError: the request failed" in text and "Traceback (most recent call last)" in text


def test_a_traceback_another_handler_formatted_first(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    plain = io.StringIO()
    first = logging.StreamHandler(plain)  # formats first and caches the traceback text on the record
    logger.handlers.insert(0, first)
    try:
        raise ConnectionError(f"cannot reach {URL}")
    except ConnectionError:
        logger.exception("failed")
    assert TOKEN in plain.getvalue()  # that one has no filter
    assert TOKEN not in out.getvalue() and f"bot{REDACTED}/getMe" in out.getvalue()


def test_records_without_the_token_are_left_alone(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s pictures in %d ms", ("12", 30), None)
    assert RedactToken(TOKEN).filter(record) is True
    assert record.msg == "%s pictures in %d ms" and record.args == ("12", 30)
    try:
        raise ValueError("nothing secret")
    except ValueError:
        logger.exception("plain")
    assert "ValueError: nothing secret" in out.getvalue()
    token_free = RedactToken("")  # no token: nothing to redact, every record passes
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("a",), None)
    assert token_free.filter(record) and record.args == ("a",)


def test_a_log_call_with_wrong_arguments_neither_raises_nor_leaks(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = log
    logger.info("%d pictures from %s", "many", URL)  # a bug in a log call must not become a failed update
    text = out.getvalue()
    assert TOKEN not in text and "could not be formatted" in text


def test_setup_logging_redacts_and_quiets_the_http_client(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("bot", "classifier", "telegram.ext", "httpx",
                                                                "httpcore")}
    try:
        setup_logging(TOKEN)
        assert logging.getLogger("httpx").level == logging.WARNING
        assert logging.getLogger("httpcore").level == logging.WARNING
        assert logging.getLogger("bot").level == logging.INFO and root.level == logging.WARNING
        logging.getLogger("bot.test").info("polling %s", URL)
        logging.getLogger("httpx").warning(f"HTTP Request: POST {URL} 502 Bad Gateway")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert f"INFO bot.test: polling https://api.telegram.org/bot{REDACTED}/getMe" in err
    assert f"WARNING httpx: HTTP Request: POST https://api.telegram.org/bot{REDACTED}/getMe 502" in err
