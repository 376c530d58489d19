"""The last day of answers, for /stats: counts per minute and the latest end-to-end latencies."""

from __future__ import annotations

import time
from collections import deque

from bot.telemetry.percentile import DAY_MINUTES, percentile

LATENCY_WINDOW = 1000  # /stats' percentiles are over this many latest answers


class RecentAnswers:
    """Predictions sent, bucketed by minute for a day, and the latest LATENCY_WINDOW latencies.

    Fixed memory whatever the traffic: at most a day of minute buckets and LATENCY_WINDOW floats.
    """

    def __init__(self, window: int = LATENCY_WINDOW) -> None:
        self._minutes: deque[list[int]] = deque()  # [minute number, answers in it], oldest first
        self._latencies: deque[float] = deque(maxlen=window)

    def add(self, seconds: float, now: float | None = None) -> None:
        minute = int((time.time() if now is None else now) // 60)
        if self._minutes and self._minutes[-1][0] == minute:
            self._minutes[-1][1] += 1
        else:
            self._minutes.append([minute, 1])
            while self._minutes[0][0] <= minute - DAY_MINUTES:
                self._minutes.popleft()
        self._latencies.append(seconds)

    def count(self, minutes: int, now: float | None = None) -> int:
        """Answers in the last `minutes` minutes (this one included)."""
        first = int((time.time() if now is None else now) // 60) - minutes + 1
        return sum(n for minute, n in self._minutes if minute >= first)

    def latency_count(self) -> int:
        """How many latencies the percentiles are over (at most the window)."""
        return len(self._latencies)

    def percentile(self, q: float) -> float | None:
        """The q-th percentile (0..100) of the latest latencies, in seconds; None before the first answer."""
        return percentile(self._latencies, q)
