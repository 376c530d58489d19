"""A plain progress line on stderr, drawn only where a person is watching."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts finished items; redraws at most ten times a second on a terminal: a bar with
    done/total and pictures per second, or just the count and rate when the total is unknown
    (paths read from standard input)."""

    def __init__(self, total: int | None, stream: TextIO = sys.stderr, width: int = 30,
                 enabled: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.width = width
        self.enabled = stream.isatty() and total != 1 if enabled is None else enabled
        self._started = time.monotonic()
        self._last = 0.0

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        finished = self.done == self.total
        if self.enabled and (now - self._last > 0.1 or finished):
            self._last = now
            rate = self.done / max(now - self._started, 1e-9)
            if self.total:
                filled = int(self.width * self.done / self.total)
                bar = "#" * filled + "." * (self.width - filled)
                self.stream.write(f"\r[{bar}] {self.done}/{self.total} {rate:.0f}/s")
            else:
                self.stream.write(f"\r{self.done} done {rate:.0f}/s")
            if finished:
                self.stream.write("\n")
            self.stream.flush()
