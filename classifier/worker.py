"""The batching worker: many concurrent callers, one model, batches in between."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from classifier.devicedecode import DeviceJpegDecoder, JpegHeader, read_jpeg_header
from classifier.images import ImageError, ImageLimits, decode_image, to_rgb
from classifier.inference import InternalError, infer
from classifier.observer import WorkerObserver
from classifier.schedule import ChunkSizer, Doorbell, Scheduler, Step, Wake
from classifier.zeroshot import LabelsNotCached, Prediction, ZeroShotClassifier

logger = logging.getLogger(__name__)


class WorkerBusy(RuntimeError):
    """The queue is full; the caller should try again shortly."""


class WorkerStopped(RuntimeError):
    """The worker is stopping or stopped and takes no new requests."""


@dataclass
class _Request:
    pixels: np.ndarray | JpegHeader  # a prepared picture, or a JPEG to decode on the device
    labels: tuple[str, ...]
    future: asyncio.Future[Prediction]
    queued_at: float = 0.0  # perf_counter() when it last joined the queue


@dataclass
class WorkerStats:
    """Counters for tests, logs and the benchmark."""

    batches: int = 0
    images: int = 0
    largest_batch: int = 0
    text_chunks: int = 0
    labels_encoded: int = 0  # through the chunked path, the only one the worker takes
    requeued: int = 0  # pictures sent back because their labels left the text cache before their batch


class BatchWorker:
    """Collects classify() calls into batches and runs them on the model in one thread.

    Decoding, resizing and cropping run in a small thread pool, in parallel with each
    other and with the model; all torch work runs on the classifier's one thread. A batch
    closes when it is full, when max_wait has passed, or at once when nothing more is on
    its way, so a lone request never waits for company.

    Labels nobody used before are encoded on the same thread in chunks of about one image
    batch's time, taken in turn from each label set waiting for them, with image batches in
    between (classifier/schedule.py): a chat's new labels cost that chat, never everyone else's
    pictures. An image batch never encodes text: a picture whose labels left the text cache
    before its batch ran goes back through the chunked path and waits for them.
    """

    def __init__(self, classifier: ZeroShotClassifier, limits: ImageLimits, *, max_batch: int = 32,
                 max_wait_ms: float = 10.0, queue_size: int = 256, decode_threads: int = 2,
                 decode_on_device: bool = False) -> None:
        self.classifier = classifier
        self.limits = limits
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.queue_size = queue_size
        self.stats = WorkerStats()
        self.observer = WorkerObserver()  # replace it to receive timings (classifier/observer.py)
        self._decode_pool = ThreadPoolExecutor(decode_threads, thread_name_prefix="toonclip-decode")
        # JPEGs decoded in batches on the model's device (nvjpeg on a GPU); the rest through Pillow.
        self._device_decoder = (DeviceJpegDecoder(classifier.clip.device, classifier.picture_steps)
                                if decode_on_device else None)
        self._pending: deque[_Request] = deque()
        self._text_jobs: deque[deque[str]] = deque()  # one per label set waiting for new labels
        self._encoding: dict[str, asyncio.Future[None]] = {}  # label -> done when it is in the cache
        self._doorbell = Doorbell()
        self._scheduler = Scheduler()
        self._chunks = ChunkSizer()
        self._admitted = 0
        self._decoding = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def load(self) -> int:
        """Requests accepted and not yet answered."""
        return self._admitted

    @property
    def running(self) -> bool:
        """Whether the batching loop runs (started, and neither stopped nor crashed)."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the batching loop on the running event loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="toonclip-worker")

    async def stop(self) -> None:
        """Refuse new requests, answer every accepted one, then stop."""
        self._closing = True
        self._doorbell.ring(Wake.CLOSING)
        if self._task is not None:
            await self._task
        self._decode_pool.shutdown(wait=True)

    def prepare_labels(self, labels: Sequence[str]) -> asyncio.Future[list[None]]:
        """Start encoding the labels not cached yet; the future is done when all of them are.

        Nobody has to await it: /labels calls it so the encoding starts before the chat's next
        picture arrives.
        """
        # Shielded: cancelling this future must not cancel labels other callers wait for too.
        done = asyncio.gather(*(asyncio.shield(future) for future in self._schedule(labels)))
        done.add_done_callback(_consume)
        return done

    def _schedule(self, labels: Sequence[str]) -> list[asyncio.Future[None]]:
        """Futures for the labels of a set that are not cached: new ones join a job of this set."""
        waiting: list[asyncio.Future[None]] = []
        new: deque[str] = deque()
        for label in self.classifier.missing(labels):
            future = self._encoding.get(label)
            if future is None:
                future = self._encoding[label] = asyncio.get_running_loop().create_future()
                future.add_done_callback(_consume)
                new.append(label)
            waiting.append(future)
        if new:
            self._text_jobs.append(new)
            self._doorbell.ring(Wake.LABELS_QUEUED)
        return waiting

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
            labels_ready = self._schedule(labels)  # encoding starts while the picture is decoded
            self.observer.labels_looked_up(len(set(labels)) - len(labels_ready), len(labels_ready))
            self._decoding += 1
            try:
                started = time.perf_counter()
                pixels = await loop.run_in_executor(self._decode_pool, self._prepare, image)
                self.observer.picture_prepared(time.perf_counter() - started)
            except (ImageError, asyncio.CancelledError):
                raise
            except Exception as exc:  # a bug or a library's surprise: this caller's failure alone
                logger.exception("Preparing a picture failed")
                raise InternalError("internal error") from exc
            finally:
                self._decoding -= 1
                self._doorbell.ring(Wake.DECODE_FINISHED)
            return await self._score(_Request(pixels, tuple(labels), loop.create_future()), labels_ready)
        finally:
            self._admitted -= 1
            self._doorbell.ring(Wake.CALLER_LEFT)

    async def _score(self, request: _Request, labels_ready: list[asyncio.Future[None]]) -> Prediction:
        """Queue a prepared picture once its labels are encoded; when they left the cache before its
        batch ran, encode them again (through the chunked path) and queue it again."""
        while True:
            if labels_ready:
                await asyncio.wait(labels_ready)  # never cancels them: other callers share them
                for ready in labels_ready:
                    ready.result()  # the encoding's failure is this caller's too
            request.queued_at = time.perf_counter()
            self._pending.append(request)
            self._doorbell.ring(Wake.PICTURE_QUEUED)
            try:
                return await request.future
            except LabelsNotCached:
                self.stats.requeued += 1
                request.future = asyncio.get_running_loop().create_future()
                labels_ready = self._schedule(request.labels)

    def _prepare(self, image: bytes | Image.Image) -> np.ndarray | JpegHeader:
        if isinstance(image, Image.Image):
            picture = to_rgb(image)
        elif self._device_decoder is not None and (header := read_jpeg_header(image, self.limits)):
            return header  # checked from its header here; decoded with its batch on the device
        else:
            picture = decode_image(image, self.limits, self.classifier.image_size)
        return self.classifier.prepare(picture)

    def _take(self, n: int) -> list[_Request]:
        taken: list[_Request] = []
        while self._pending and len(taken) < n:
            taken.append(self._pending.popleft())
        return taken

    async def _collect_batch(self) -> list[_Request]:
        """Pending requests, waiting up to max_wait for company while more are being decoded."""
        loop = asyncio.get_running_loop()
        batch = self._take(self.max_batch)
        deadline = loop.time() + self.max_wait
        while len(batch) < self.max_batch and self._decoding > 0:
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

    async def _run(self) -> None:
        while True:
            self._doorbell.reset()  # before reading the state: a ring from now on is not missed
            step = self._scheduler.next(pictures=bool(self._pending), text=bool(self._text_jobs),
                                        closing=self._closing, unanswered=self._admitted)
            if step is Step.IMAGES:
                await self._run_images(await self._collect_batch())
            elif step is Step.TEXT:
                await self._run_text_chunk()
            elif step is Step.STOP:
                return
            else:
                await self._doorbell.wait()

    async def _run_images(self, batch: list[_Request]) -> None:
        live = [request for request in batch if not request.future.done()]
        if not live:
            return
        self.stats.batches += 1
        self.stats.images += len(live)
        self.stats.largest_batch = max(self.stats.largest_batch, len(live))
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self.classifier.executor, self._infer, live)
        except Exception:
            if len(live) == 1:
                logger.exception("A picture failed in the model")
                results = [InternalError("internal error")]
            else:  # find the one that broke it: each alone, so only its caller fails
                logger.exception("A batch of %d failed; running its pictures one by one", len(live))
                results = []
                for request in live:
                    try:
                        results += await loop.run_in_executor(self.classifier.executor, self._infer, [request])
                    except Exception:
                        logger.exception("A picture failed in the model")
                        results.append(InternalError("internal error"))
        elapsed = time.perf_counter() - started
        self._chunks.batch_done(elapsed)
        self.observer.batch_done([started - request.queued_at for request in live], elapsed)
        for request, result in zip(live, results, strict=True):
            if request.future.done():
                continue
            if isinstance(result, Exception):
                request.future.set_exception(result)
            else:
                request.future.set_result(result)

    def _infer(self, batch: list[_Request]) -> list[Prediction | Exception]:
        return infer(self.classifier, self._device_decoder, [(r.pixels, r.labels) for r in batch])

    async def _run_text_chunk(self) -> None:
        """Encode the next few labels of the job whose turn it is; it goes to the back of the line."""
        job = self._text_jobs.popleft()
        chunk = [job.popleft() for _ in range(min(self._chunks.size(), len(job)))]
        if job:
            self._text_jobs.append(job)
        started = time.perf_counter()
        try:
            await asyncio.get_running_loop().run_in_executor(self.classifier.executor,
                                                             self.classifier.encode_labels, chunk)
        except Exception as exc:
            logger.exception("Encoding %d labels failed", len(chunk))
            for label in chunk:
                self._encoding.pop(label).set_exception(exc)
            return
        self.stats.text_chunks += 1
        self.stats.labels_encoded += len(chunk)
        elapsed = time.perf_counter() - started
        self._chunks.chunk_done(len(chunk), elapsed)
        self.observer.text_encoded(len(chunk), elapsed)
        for label in chunk:
            self._encoding.pop(label).set_result(None)


def _consume(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen: labels encoded for nobody in particular must not warn when they fail."""
    if not future.cancelled():
        future.exception()
