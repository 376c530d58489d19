"""The operator's side while the bot runs: the event-loop lag probe, the HTTP endpoint, and the
worker and model wired into the metrics. Started first and stopped last by bot/app.py."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from telegram.ext import Application

from bot.conversation.services import Services
from bot.ops.health import HealthCheck
from bot.ops.server import OpsServer
from bot.settings import BotSettings
from bot.telemetry.metrics import METRICS_KEY, Metrics, package_version

OPS_KEY = "toonclip-ops"  # bot_data key of what runs for the operator


@dataclass
class Running:
    lag_probe: asyncio.Task[None]
    server: OpsServer | None


async def start(application: Application, settings: BotSettings) -> None:
    """Start the lag probe, and the HTTP endpoint when METRICS_PORT is set (before the model loads,
    so /healthz says why the bot is not ready yet)."""
    metrics: Metrics = application.bot_data[METRICS_KEY]
    loop = asyncio.get_running_loop()
    server = None
    if settings.metrics_port is not None:
        server = OpsServer(metrics.registry, HealthCheck(application, loop), settings.metrics_listen,
                           settings.metrics_port)
        server.start()
    probe = loop.create_task(metrics.watch_loop_lag(), name="toonclip-loop-lag")
    application.bot_data[OPS_KEY] = Running(probe, server)


def attach(metrics: Metrics, svc: Services) -> None:
    """Let the metrics read the running worker's queue and name the model."""
    worker, clip = svc.worker, svc.classifier.clip
    metrics.queue_depth.set_function(lambda: worker.load)
    metrics.queue_capacity.set(worker.queue_size)
    metrics.build.info({
        "model": svc.settings.classifier.model, "weights": svc.settings.classifier.pretrained or "random",
        "device": str(clip.device), "precision": str(clip.dtype).removeprefix("torch."),
        "version": package_version(),
    })


async def stop(application: Application) -> None:
    running: Running | None = application.bot_data.pop(OPS_KEY, None)
    if running is None:
        return
    running.lag_probe.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running.lag_probe
    if running.server is not None:
        await asyncio.to_thread(running.server.stop)
