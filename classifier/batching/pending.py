"""Prepared pictures waiting for an image batch, and how a batch is gathered from them."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from classifier.batching.schedule import Doorbell, Wake
from classifier.pictures.devicedecode import JpegHeader
from classifier.zeroshot import Prediction


@dataclass
class Request:
    pixels: np.ndarray | JpegHeader  # a prepared picture, or a JPEG to decode on the device
    labels: tuple[str, ...] | None  # None: encode only, the answer is the picture's features
    future: asyncio.Future[Prediction | torch.Tensor]
    open_set: bool = False  # say whether the picture shows none of the labels (classifier/openset.py)
    queued_at: float = 0.0  # perf_counter() when it last joined the queue


class PendingPictures:
    """The queue of prepared pictures. A batch closes when it is full, when max_wait has passed, or
    at once when nothing more is being decoded (decoding() is 0), so a lone picture never waits."""

    def __init__(self, max_batch: int, max_wait: float, doorbell: Doorbell, decoding: Callable[[], int]) -> None:
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._doorbell = doorbell
        self._decoding = decoding
        self._queue: deque[Request] = deque()

    def __bool__(self) -> bool:
        return bool(self._queue)

    def add(self, request: Request) -> None:
        """Queue a prepared picture for the next batch and wake the worker."""
        request.queued_at = time.perf_counter()
        self._queue.append(request)
        self._doorbell.ring(Wake.PICTURE_QUEUED)

    def _take(self, n: int) -> list[Request]:
        taken: list[Request] = []
        while self._queue and len(taken) < n:
            taken.append(self._queue.popleft())
        return taken

    async def collect(self) -> list[Request]:
        """Pending requests, waiting up to max_wait for company while more are being decoded."""
        loop = asyncio.get_running_loop()
        batch = self._take(self.max_batch)
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch and self._decoding() > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._doorbell.reset()
            try:
                await asyncio.wait_for(self._doorbell.wait(), remaining)
            except TimeoutError:
                break
            batch += self._take(self.max_batch - len(batch))
        return batch


def settle(requests: Sequence[Request], results: Sequence[Prediction | torch.Tensor | Exception]) -> None:
    """Give each live request its result or its exception; a caller who left is skipped."""
    for request, result in zip(requests, results, strict=True):
        if request.future.done():
            continue
        if isinstance(result, Exception):
            request.future.set_exception(result)
        else:
            request.future.set_result(result)
