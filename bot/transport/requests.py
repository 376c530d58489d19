"""Every HTTP request to the Bot API passes through here: refusals and failures are counted by
method and kind, and each answered getUpdates is noted for the health check.

A python-telegram-bot BaseRequest that wraps another (HTTPX, or the benchmark's in-process
Telegram): PTB calls do_request for every request, getUpdates and file downloads included, which
the rate limiter never sees. The token is in the URL; only the method's name is kept.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from bot.telemetry.metrics import ApiError, Metrics

DOWNLOAD = "download"  # the method name counted for file downloads (GET requests to the file URL)


def api_error(status: int) -> ApiError | None:
    """The kind of a Bot API answer's HTTP status; None for a success."""
    if status < HTTPStatus.BAD_REQUEST:
        return None
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return ApiError.TOO_MANY_REQUESTS
    if status == HTTPStatus.FORBIDDEN:
        return ApiError.FORBIDDEN
    return ApiError.OTHER


class ObservedRequest(BaseRequest):
    """Delegates every request to inner and counts how each one ended."""

    def __init__(self, inner: BaseRequest, metrics: Metrics) -> None:
        self.inner = inner
        self.metrics = metrics

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **timeouts: Any) -> tuple[int, bytes]:
        endpoint = DOWNLOAD if method == "GET" else url.rsplit("/", 1)[-1]
        try:
            status, payload = await self.inner.do_request(url, method, request_data, *args, **timeouts)
        except TimedOut:
            self.metrics.api_error(endpoint, ApiError.TIMEOUT)
            raise
        except Exception:
            self.metrics.api_error(endpoint, ApiError.OTHER)
            raise
        kind = api_error(status)
        if kind is not None:
            self.metrics.api_error(endpoint, kind)
        elif endpoint == "getUpdates":
            self.metrics.polled()
        return status, payload
