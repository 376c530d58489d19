"""/stats: the operator's view in Telegram, for the user ids in ADMIN_USER_IDS only (the handler's
filter in bot/app.py; anyone else gets what any unknown command gets: nothing)."""

from __future__ import annotations

import time
from pathlib import Path

from telegram import Update
from telegram.ext import ContextTypes

from bot.conversation.services import Services
from bot.conversation.turn import reply, turn
from bot.telemetry.metrics import Metrics, metrics_of, package_version
from bot.telemetry.percentile import DAY_MINUTES
from bot.words import screens
from bot.words.snapshot import Snapshot

HOUR_MINUTES = 60


def database_bytes(path: Path) -> int:
    """The database file with its journal or write-ahead log, when present."""
    return sum(file.stat().st_size for file in (path, Path(f"{path}-journal"), Path(f"{path}-wal")) if file.exists())


def take_snapshot(svc: Services, metrics: Metrics) -> Snapshot:
    clip = svc.classifier.clip
    return Snapshot(
        version=package_version(),
        uptime_seconds=time.monotonic() - metrics.started,
        answered_hour=metrics.recent.count(HOUR_MINUTES),
        answered_day=metrics.recent.count(DAY_MINUTES),
        latency_window=metrics.recent.latency_count(),
        p50_seconds=metrics.recent.percentile(50),
        p95_seconds=metrics.recent.percentile(95),
        queue=svc.worker.load,
        queue_size=svc.worker.queue_size,
        in_flight=metrics.pictures_in_flight(),
        label_hit_ratio=metrics.label_hit_ratio(),
        model=svc.settings.classifier.model,
        weights=svc.settings.classifier.pretrained or "random",
        device=str(clip.device),
        precision=str(clip.dtype).removeprefix("torch."),
        database_bytes=database_bytes(svc.storage.path),
    )


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Uptime, answers, latency, the queue, cache hits, the model and the database: /stats."""
    if (now := await turn(update, context)) is None:
        return
    await reply(now.message, screens.stats(now.t, take_snapshot(now.svc, metrics_of(context))))
