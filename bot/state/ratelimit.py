"""Per-user limit on pictures: past it, one polite message, then silence until the window passes."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"  # the first refusal in a window: say so once
    DROP = "drop"  # refused again: stay silent


class UserRateLimit:
    """At most `limit` pictures per user in any `window` seconds (0 disables the limit)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: set[int] = set()  # users told in their current window
        self._swept = clock()

    def check(self, user_id: int) -> Verdict:
        if self.limit <= 0:
            return Verdict.ALLOW
        now = self._clock()
        if now - self._swept >= self.window:
            self._forget_idle(now)
        times = self._seen.setdefault(user_id, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self._warned.discard(user_id)
            return Verdict.ALLOW
        if user_id in self._warned:
            return Verdict.DROP
        self._warned.add(user_id)
        return Verdict.WARN

    def tracked(self) -> int:
        """Users with state kept: only those active in the last window or so."""
        return len(self._seen.keys() | self._warned)

    def _forget_idle(self, now: float) -> None:
        """Drop users with no picture in the window, so memory follows active users only."""
        self._swept = now
        for user_id in [u for u, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            del self._seen[user_id]
            self._warned.discard(user_id)
