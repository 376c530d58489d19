"""How late the event loop wakes up: a ticker for the load test and the benchmark.

Every reply, download and database call of the bot waits for the loop; when decoding and the
model crowd it out, everything is late by this much.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from types import TracebackType

from bot.telemetry.percentile import percentile


class LoopLag:
    """`async with LoopLag() as lag:` sleeps `interval` over and over and records each lateness."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.lags_ms.append(max(0.0, (time.perf_counter() - started - self.interval) * 1000))

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick(), name="loop-lag")
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0..100) of the recorded lateness; 0 when nothing was recorded."""
        found = percentile(self.lags_ms, q)
        return 0.0 if found is None else found
