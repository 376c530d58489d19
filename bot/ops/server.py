"""The operator's HTTP endpoint: /metrics (Prometheus) and /healthz, on METRICS_LISTEN:METRICS_PORT.

The standard library's WSGI server on a thread of its own, with prometheus-client's WSGI app for
/metrics: a scrape never waits for the bot's event loop, so the metrics still come when the loop
is stuck, which is when they matter; /healthz asks the loop itself (bot/ops/health.py).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from bot.ops.health import Health

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"
TEXT = ("Content-Type", "text/plain; charset=utf-8")


class MetricsPortError(RuntimeError):
    """The endpoint could not listen where it was told to."""


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the log."""


def _server_class(host: str) -> type[WSGIServer]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = family

    return Server


class OpsServer:
    """`start()` listens at once (port 0 picks a free one, see .port); `stop()` closes it."""

    def __init__(self, registry: CollectorRegistry, health: Callable[[], Health], host: str, port: int) -> None:
        self._metrics = make_wsgi_app(registry)
        self._health = health
        try:
            self._server = make_server(host, port, self._app, server_class=_server_class(host), handler_class=_Quiet)
        except OSError as exc:
            raise MetricsPortError(f"Cannot serve metrics on METRICS_LISTEN {host}, METRICS_PORT {port}: "
                                   f"{exc.strerror or exc}.") from exc
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="toonclip-ops-http", daemon=True)
        self._thread.start()
        logger.info("Metrics at http://%s:%d%s, health at %s", self._server.server_address[0], self.port,
                    METRICS_PATH, HEALTH_PATH)

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == METRICS_PATH:
            return self._metrics(environ, start_response)
        if path == HEALTH_PATH:
            health = self._health()
            # A new header list each time: the WSGI server adds Content-Length to the one it is given.
            start_response("200 OK" if health.healthy else "503 Service Unavailable", [TEXT])
            return [health.reason.encode() + b"\n"]
        start_response("404 Not Found", [TEXT])
        return [f"Not found: try {METRICS_PATH} or {HEALTH_PATH}\n".encode()]
