"""A plain progress bar on stderr, drawn only where a person is watching."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts finished items; redraws at most ten times a second on a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, width: int = 30, enabled: bool | None = None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.width = width
        self.enabled = stream.isatty() and total > 1 if enabled is None else enabled
        self._last = 0.0

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done == self.total):
            self._last = now
            filled = int(self.width * self.done / max(1, self.total))
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r[{bar}] {self.done}/{self.total}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
