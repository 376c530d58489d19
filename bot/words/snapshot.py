"""What /stats shows, as plain values (bot/words/replies.py words it; bot/ops/stats.py gathers it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    """The operator's view at one moment."""

    version: str
    uptime_seconds: float
    answered_hour: int
    answered_day: int
    latency_window: int  # the percentiles are over this many latest answers
    p50_seconds: float | None
    p95_seconds: float | None
    queue: int
    queue_size: int
    in_flight: int
    label_hit_ratio: float | None  # None before the first lookup
    model: str
    weights: str
    device: str
    precision: str
    database_bytes: int
