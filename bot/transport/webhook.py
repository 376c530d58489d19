"""The webhook: Telegram's updates POSTed to WEBHOOK_LISTEN:WEBHOOK_PORT/telegram, with bounded edges.

python-telegram-bot's own webhook server reads a body of up to 100 MB (tornado's default) before it
looks at the secret, and compares the secret with `!=`. This one is tornado too (installed with
python-telegram-bot's webhooks extra), told what Telegram sends: the handler sees the headers before
any of the body is read, so a request without the secret (compared in constant time) is refused with
403 and one over WEBHOOK_MAX_BODY_KB with 413, their bodies never read; the connection then closes.
The server itself never holds more than the limit of one body per connection, and lets go of a
connection idle for IDLE_SECONDS or a body slower than BODY_SECONDS. What it accepts becomes an
Update on the application's queue, as with python-telegram-bot's server.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Update
from telegram.ext import Application, ExtBot
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

logger = logging.getLogger(__name__)

PATH = "/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_HEADER_BYTES = 16 * 1024  # Telegram's headers are a few hundred bytes
IDLE_SECONDS = 60.0  # a kept-alive connection with no request; Telegram reconnects when it needs to
BODY_SECONDS = 10.0  # longest a body may take to arrive once its headers have


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """One POSTed update: refused from its headers when they are wrong, else read, parsed and queued."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot_application: Application, secret: str, max_body: int) -> None:
        self.bot_application = bot_application
        self.secret = secret.encode()
        self.max_body = max_body
        self.chunks: list[bytes] = []

    def prepare(self) -> None:
        """Runs when the headers are in and no byte of the body is read yet."""
        given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, self.secret):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN, reason="Wrong or missing secret token")
        length = self.request.headers.get("Content-Length", "")
        if not length.isdigit():
            raise tornado.web.HTTPError(HTTPStatus.LENGTH_REQUIRED)  # Telegram always says how long
        if int(length) > self.max_body:
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)  # at most max_body in all: tornado stops at Content-Length

    async def post(self) -> None:
        bot = self.bot_application.bot
        try:
            update = Update.de_json(json.loads(b"".join(self.chunks)), bot)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            logger.warning("Refused a webhook request that is not an update: %r", exc)
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST, reason="Not an update") from None
        if isinstance(bot, ExtBot):
            bot.insert_callback_data(update)
        await self.bot_application.update_queue.put(update)
        self.set_status(HTTPStatus.OK)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A status line and nothing else: no traceback, no page. A refused body is never read, so the
        connection closes after the answer: say so, lest the client send its next request on it."""
        self.set_header("Connection", "close")
        self.finish()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Refusals are expected (anyone can reach the port); they are not the bot's errors."""
        if not isinstance(value, tornado.web.HTTPError):
            logger.error("The webhook failed", exc_info=(typ, value, tb))


class _App(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """Every update would be a line; refusals are counted by nobody's log either."""


class WebhookServer:
    """Tornado's HTTP server on the running event loop: `start()` listens, `stop()` closes every connection."""

    def __init__(self, application: Application, secret: str, listen: str, port: int,
                 max_body: int) -> None:
        app = _App([(PATH, _UpdateHandler, {"bot_application": application, "secret": secret, "max_body": max_body})])
        self._server = HTTPServer(app, max_body_size=max_body, max_buffer_size=max_body + MAX_HEADER_BYTES,
                                  max_header_size=MAX_HEADER_BYTES, idle_connection_timeout=IDLE_SECONDS,
                                  body_timeout=BODY_SECONDS)
        self._listen, self._port = listen, port
        self._sockets: list[socket.socket] = []

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen, for port 0, once started)."""
        return int(self._sockets[0].getsockname()[1]) if self._sockets else self._port

    def start(self) -> None:
        self._sockets = bind_sockets(self._port, address=self._listen)
        self._server.add_sockets(self._sockets)
        logger.info("Webhook listening on %s:%d%s", self._listen, self.port, PATH)

    async def stop(self) -> None:
        self._server.stop()
        await self._server.close_all_connections()
