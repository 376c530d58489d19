"""The operator's HTTP endpoint: /metrics (Prometheus) and /healthz, on METRICS_LISTEN:METRICS_PORT.

The standard library's WSGI server with prometheus-client's WSGI app for /metrics, on threads of
its own: a scrape never waits for the bot's event loop, so the metrics still come when the loop is
stuck, which is when they matter; /healthz asks the loop itself (bot/ops/health.py).

Bounded, whoever connects: one thread accepts connections and watches the idle ones (connected,
nothing sent yet) without a thread each; a connection that has sent something is served by one of
WORKERS threads, one request each (the WSGI server closes it after its answer). A connection idle
for CLIENT_TIMEOUT_SECONDS is closed, and so is one whose client stops sending or reading for as
long; past MAX_IDLE idle connections the oldest is closed. So hundreds of idle connections cost no
thread, and /healthz still answers at once.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from bot.ops.health import Health

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
HEALTH_PATH = "/healthz"
TEXT = ("Content-Type", "text/plain; charset=utf-8")
WORKERS = 4  # threads that serve requests: a scrape and a health check at once, with room
CLIENT_TIMEOUT_SECONDS = 5.0  # idle before the request, or between two reads or writes of it
MAX_IDLE = 128  # connections that sent nothing yet; past it the oldest is closed
MAX_WAITING = 64  # connections that sent something and wait for a thread; past it a new one is closed
POLL_SECONDS = 0.25  # how often the accepting thread looks for idle connections to close, and for stop()


class MetricsPortError(RuntimeError):
    """The endpoint could not listen where it was told to."""


class _Quiet(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT_SECONDS  # a client that stops sending or reading is let go

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood the log."""


class _PooledServer(WSGIServer):
    """A WSGI server whose requests run on a fixed pool of threads; the accepting loop is OpsServer's."""

    request_queue_size = 64

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="toonclip-ops-http")
        self._places = threading.BoundedSemaphore(WORKERS + MAX_WAITING)

    def serve(self, connection: socket.socket, address: Any) -> None:
        """Answer one connection's request on a pool thread, then close it; close it at once when
        WORKERS are busy and MAX_WAITING wait already."""
        if not self._places.acquire(blocking=False):
            self.shutdown_request(connection)
            return
        self.pool.submit(self._serve_here, connection, address)

    def _serve_here(self, connection: socket.socket, address: Any) -> None:
        try:
            self.finish_request(connection, address)
        except Exception as exc:  # a client gone or too slow: its connection alone ends
            logger.debug("Metrics connection from %s ended: %r", address, exc)
        finally:
            self.shutdown_request(connection)
            self._places.release()


def _server_class(host: str) -> type[_PooledServer]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(_PooledServer):
        address_family = family

    return Server


class OpsServer:
    """`start()` listens at once (port 0 picks a free one, see .port); `stop()` closes it."""

    def __init__(self, registry: CollectorRegistry, health: Callable[[], Health], host: str, port: int) -> None:
        self._metrics = make_wsgi_app(registry)
        self._health = health
        try:
            self._server: _PooledServer = make_server(host, port, self._app, server_class=_server_class(host),
                                                      handler_class=_Quiet)
        except OSError as exc:
            raise MetricsPortError(f"Cannot serve metrics on METRICS_LISTEN {host}, METRICS_PORT {port}: "
                                   f"{exc.strerror or exc}.") from exc
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept, name="toonclip-ops-accept", daemon=True)
        self._thread.start()
        logger.info("Metrics at http://%s:%d%s, health at %s", self._server.server_address[0], self.port,
                    METRICS_PATH, HEALTH_PATH)

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._thread.join()
            self._thread = None
        self._server.pool.shutdown(wait=True)
        self._server.server_close()

    def _accept(self) -> None:
        """Accept connections; hand each to the pool once it has sent something; close idle ones."""
        idle: OrderedDict[socket.socket, tuple[Any, float]] = OrderedDict()  # oldest first
        listener = self._server.socket
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in selector.select(POLL_SECONDS):
                    if key.fileobj is listener:
                        try:
                            connection, address = listener.accept()
                        except OSError:
                            continue
                        if len(idle) >= MAX_IDLE:
                            oldest, _ = idle.popitem(last=False)
                            selector.unregister(oldest)
                            self._server.shutdown_request(oldest)
                        idle[connection] = (address, time.monotonic() + CLIENT_TIMEOUT_SECONDS)
                        selector.register(connection, selectors.EVENT_READ)
                    else:
                        ready: socket.socket = key.fileobj  # type: ignore[assignment]
                        selector.unregister(ready)
                        address, _ = idle.pop(ready)
                        self._server.serve(ready, address)
                now = time.monotonic()
                while idle and next(iter(idle.values()))[1] <= now:
                    expired, _ = idle.popitem(last=False)
                    selector.unregister(expired)
                    self._server.shutdown_request(expired)
            for connection in idle:
                self._server.shutdown_request(connection)

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
