"""Rate limits: sliding one-minute windows per sender and per chat, and at most one note a minute to a
sender about any of them. What is over a limit is dropped, never queued."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable
from enum import Enum


class Verdict(Enum):
    ALLOW = "allow"
    WARN = "warn"  # refused, and the sender has not been told in the last window: say so once
    DROP = "drop"  # refused: stay silent


class SlidingWindow:
    """At most `limit` events per key in any `window` seconds (0 disables the limit). Memory follows
    the keys active in the last window or so."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._seen: dict[Hashable, deque[float]] = {}
        self._swept = clock()

    def take(self, key: Hashable) -> bool:
        """Count one event for key when it is within the limit; False (nothing counted) when it is over."""
        if self.limit <= 0:
            return True
        now = self._clock()
        if now - self._swept >= self.window:
            self._forget_idle(now)
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def tracked(self) -> int:
        return len(self._seen)

    def _forget_idle(self, now: float) -> None:
        self._swept = now
        for key in [k for k, t in self._seen.items() if not t or now - t[-1] >= self.window]:
            del self._seen[key]


class Notes:
    """Who was told to slow down, so that nobody is told more than once in `window` seconds, whichever
    limit they hit (pictures or updates)."""

    def __init__(self, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._told: dict[Hashable, float] = {}

    def take(self, key: Hashable) -> bool:
        """True when key may be told now (and remember it), False when it was told within the window."""
        now = self._clock()
        if len(self._told) > 1024:  # forget those told long ago; amortised, memory follows active senders
            self._told = {k: at for k, at in self._told.items() if now - at < self.window}
        told = self._told.get(key)
        if told is not None and now - told < self.window:
            return False
        self._told[key] = now
        return True

    def tracked(self) -> int:
        return len(self._told)


class UserRateLimit:
    """At most `limit` pictures per sender in any `window` seconds (0 disables the limit); past it one
    note (shared with the update limits' notes when given), then silence."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 notes: Notes | None = None) -> None:
        self.limit = limit
        self.window = window
        self._window = SlidingWindow(limit, window, clock)
        self._notes = notes or Notes(window, clock)

    def check(self, sender: Hashable) -> Verdict:
        if self._window.take(sender):
            return Verdict.ALLOW
        return Verdict.WARN if self._notes.take(sender) else Verdict.DROP

    def tracked(self) -> int:
        """Senders with state kept: only those active in the last window or so."""
        return self._window.tracked()


class UpdateLimit:
    """Every update counts once for its sender and once for its chat. Past the sender's limit: one note a
    window, then silence. Past the chat's: silence (a note would add to the flood the chat already is);
    an update over its sender's limit does not use up the chat's, so one member cannot silence a group."""

    def __init__(self, per_sender: int, per_chat: int, notes: Notes, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._senders = SlidingWindow(per_sender, window, clock)
        self._chats = SlidingWindow(per_chat, window, clock)
        self._notes = notes

    def check(self, sender: Hashable, chat: Hashable | None) -> Verdict:
        if not self._senders.take(sender):
            return Verdict.WARN if self._notes.take(sender) else Verdict.DROP
        if chat is not None and not self._chats.take(chat):
            return Verdict.DROP
        return Verdict.ALLOW

    def tracked(self) -> int:
        """Senders and chats with state kept."""
        return self._senders.tracked() + self._chats.tracked()
