"""The batching worker: many concurrent callers, one model, batches in between."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image

from classifier.images import ImageLimits, decode_image, to_rgb
from classifier.zeroshot import Prediction, ZeroShotClassifier

logger = logging.getLogger(__name__)


class WorkerBusy(RuntimeError):
    """The queue is full; the caller should try again shortly."""


class WorkerStopped(RuntimeError):
    """The worker is stopping or stopped and takes no new requests."""


@dataclass
class _Request:
    pixels: np.ndarray
    labels: tuple[str, ...]
    future: asyncio.Future[Prediction]


@dataclass
class WorkerStats:
    """Counters for tests, logs and the benchmark."""

    batches: int = 0
    images: int = 0
    largest_batch: int = 0


class BatchWorker:
    """Collects classify() calls into batches and runs them on the model in one thread.

    Decoding, resizing and cropping run in a small thread pool, in parallel with each
    other and with the model; all torch work runs on the classifier's one thread. A batch
    closes when it is full, when max_wait has passed, or at once when nothing more is on
    its way, so a lone request never waits for company.
    """

    def __init__(self, classifier: ZeroShotClassifier, limits: ImageLimits, *, max_batch: int = 32,
                 max_wait_ms: float = 10.0, queue_size: int = 256, decode_threads: int = 2) -> None:
        self.classifier = classifier
        self.limits = limits
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.queue_size = queue_size
        self.stats = WorkerStats()
        self._decode_pool = ThreadPoolExecutor(decode_threads, thread_name_prefix="toonclip-decode")
        self._pending: deque[_Request] = deque()
        self._arrived = asyncio.Event()
        self._admitted = 0
        self._decoding = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def load(self) -> int:
        """Requests accepted and not yet answered."""
        return self._admitted

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="toonclip-worker")

    async def stop(self) -> None:
        """Refuse new requests, answer every accepted one, then stop."""
        self._closing = True
        self._arrived.set()
        if self._task is not None:
            await self._task
        self._decode_pool.shutdown(wait=True)

    async def classify(self, image: bytes | Image.Image, labels: Sequence[str]) -> Prediction:
        """Classify one picture against labels; raises ImageError, WorkerBusy or WorkerStopped."""
        if self._closing or self._task is None:
            raise WorkerStopped("The classifier is not running.")
        if self._admitted >= self.queue_size:
            raise WorkerBusy(f"The classifier is busy ({self._admitted} pictures waiting); "
                             "try again in a few seconds.")
        if not labels:
            raise ValueError("At least one label is needed.")
        loop = asyncio.get_running_loop()
        self._admitted += 1
        try:
            self._decoding += 1
            try:
                pixels = await loop.run_in_executor(self._decode_pool, self._prepare, image)
            finally:
                self._decoding -= 1
                self._arrived.set()
            future: asyncio.Future[Prediction] = loop.create_future()
            self._pending.append(_Request(pixels, tuple(labels), future))
            self._arrived.set()
            return await future
        finally:
            self._admitted -= 1
            self._arrived.set()

    def _prepare(self, image: bytes | Image.Image) -> np.ndarray:
        if isinstance(image, Image.Image):
            picture = to_rgb(image)
        else:
            picture = decode_image(image, self.limits, self.classifier.image_size)
        return self.classifier.prepare(picture)

    def _take(self, n: int) -> list[_Request]:
        taken: list[_Request] = []
        while self._pending and len(taken) < n:
            taken.append(self._pending.popleft())
        return taken

    async def _next_batch(self) -> list[_Request] | None:
        """Wait for work; None once stopping and everything accepted was answered."""
        loop = asyncio.get_running_loop()
        while not self._pending:
            if self._closing and self._admitted == 0:
                return None
            self._arrived.clear()
            await self._arrived.wait()
        batch = self._take(self.max_batch)
        deadline = loop.time() + self.max_wait
        # Wait for company only while more pictures are being decoded right now.
        while len(batch) < self.max_batch and self._decoding > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
            batch += self._take(self.max_batch - len(batch))
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while (batch := await self._next_batch()) is not None:
            live = [request for request in batch if not request.future.done()]
            if not live:
                continue
            self.stats.batches += 1
            self.stats.images += len(live)
            self.stats.largest_batch = max(self.stats.largest_batch, len(live))
            try:
                results = await loop.run_in_executor(self.classifier.executor, self._infer, live)
            except Exception as exc:
                logger.exception("A batch of %d failed", len(live))
                for request in live:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            for request, result in zip(live, results, strict=True):
                if request.future.done():
                    continue
                if isinstance(result, Exception):
                    request.future.set_exception(result)
                else:
                    request.future.set_result(result)

    def _infer(self, batch: list[_Request]) -> list[Prediction | Exception]:
        features = self.classifier.clip.encode_images(self.classifier.to_batch([r.pixels for r in batch]))
        results: list[Prediction | Exception] = []
        for request, vector in zip(batch, features, strict=True):
            try:
                results.append(self.classifier.score(vector, request.labels))
            except Exception as exc:  # one label set's failure is its caller's alone
                results.append(exc)
        return results
