"""Labels waiting for the text encoder: one job per label set, taken in turn a chunk at a time, and
one future per label that every caller waiting for it shares."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any


class LabelJobs:
    """Owns which labels are being encoded and in which order the model thread takes them.

    A label set whose labels are not cached becomes a job of its new labels; a label another set
    is already waiting for is not encoded twice, its future is shared. The model thread takes a
    chunk from the job whose turn it is and puts the rest of that job at the back of the line, so a
    long set never holds up a short one.
    """

    def __init__(self, on_queued: Callable[[], None]) -> None:
        self._jobs: deque[deque[str]] = deque()
        self._encoding: dict[str, asyncio.Future[None]] = {}  # label -> done when it is in the cache
        self._on_queued = on_queued

    @property
    def waiting(self) -> bool:
        """Whether a chunk is waiting for the model thread."""
        return bool(self._jobs)

    @property
    def labels_in_flight(self) -> int:
        """Labels queued or being encoded."""
        return len(self._encoding)

    def schedule(self, missing: Iterable[str]) -> list[asyncio.Future[None]]:
        """Futures for a set's labels that are not cached: new ones become a job of this set."""
        waiting: list[asyncio.Future[None]] = []
        new: deque[str] = deque()
        for label in missing:
            future = self._encoding.get(label)
            if future is None:
                future = self._encoding[label] = asyncio.get_running_loop().create_future()
                future.add_done_callback(consume)
                new.append(label)
            waiting.append(future)
        if new:
            self._jobs.append(new)
            self._on_queued()
        return waiting

    def next_chunk(self, size: int) -> list[str]:
        """Up to size labels of the job whose turn it is; what is left of it goes to the back."""
        job = self._jobs.popleft()
        chunk = [job.popleft() for _ in range(min(size, len(job)))]
        if job:
            self._jobs.append(job)
        return chunk

    def encoded(self, chunk: list[str]) -> None:
        for label in chunk:
            self._encoding.pop(label).set_result(None)

    def failed(self, chunk: list[str], exc: BaseException) -> None:
        for label in chunk:
            self._encoding.pop(label).set_exception(exc)


async def encoded(labels_ready: list[asyncio.Future[None]]) -> None:
    """Wait until labels are encoded, never cancelling them (other callers share them); their
    encoding's failure is this caller's too."""
    if labels_ready:
        await asyncio.wait(labels_ready)
        for ready in labels_ready:
            ready.result()


def consume(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen: labels encoded for nobody in particular must not warn when they fail."""
    if not future.cancelled():
        future.exception()
