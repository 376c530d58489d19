"""Is the bot alive? The rules behind /healthz, checked on the event loop itself.

Healthy when the model is loaded, the classifier's worker runs, and (with long polling) Telegram
answered a getUpdates within HEALTH_POLL_AGE_SECONDS. The check runs as a coroutine on the bot's
event loop, so a loop that is stuck (a blocking call, a runaway handler) fails it too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass

from telegram.ext import Application

from bot.conversation.services import SERVICES_KEY, SETTINGS_KEY, Services
from bot.settings import BotSettings
from bot.telemetry.metrics import METRICS_KEY, Metrics

LOOP_ANSWER_SECONDS = 2.0  # the event loop must run the check within this long


@dataclass(frozen=True)
class Health:
    healthy: bool
    reason: str


def check(application: Application, now: float) -> Health:
    """The verdict from what the application holds right now (call it on the event loop)."""
    settings: BotSettings = application.bot_data[SETTINGS_KEY]
    metrics: Metrics = application.bot_data[METRICS_KEY]
    svc: Services | None = application.bot_data.get(SERVICES_KEY)
    if svc is None:
        return Health(False, "the model is not loaded (starting or stopping)")
    if not svc.worker.running:
        return Health(False, "the classifier's worker is not running")
    if settings.webhook_url:
        # Telegram calls a webhook only when someone writes: silence is no sign of trouble.
        return Health(True, "ok: model loaded, worker running, webhook mode")
    if metrics.polled_at is None:
        return Health(False, "Telegram has not answered a getUpdates yet")
    age = now - metrics.polled_at
    if age > settings.health_poll_age_seconds:
        return Health(False, f"Telegram has not answered a getUpdates for {age:.0f} s "
                             f"(HEALTH_POLL_AGE_SECONDS is {settings.health_poll_age_seconds:g})")
    return Health(True, f"ok: model loaded, worker running, last getUpdates answered {age:.1f} s ago")


class HealthCheck:
    """Callable from any thread (the HTTP server's): runs check() on the bot's loop and waits for it."""

    def __init__(self, application: Application, loop: asyncio.AbstractEventLoop) -> None:
        self.application = application
        self.loop = loop

    def __call__(self) -> Health:
        async def on_loop() -> Health:
            return check(self.application, time.monotonic())

        if self.loop.is_closed():
            return Health(False, "the event loop is closed: the bot has stopped")
        future = asyncio.run_coroutine_threadsafe(on_loop(), self.loop)
        try:
            return future.result(LOOP_ANSWER_SECONDS)
        except concurrent.futures.TimeoutError:
            future.cancel()
            return Health(False, f"the event loop did not answer within {LOOP_ANSWER_SECONDS:g} s")
