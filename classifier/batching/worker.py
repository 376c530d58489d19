"""The batching worker: many concurrent callers, one model, batches in between."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import cast

import torch

from classifier.batching.decoding import ImageSource, PictureDecoder
from classifier.batching.inference import infer, run_batch
from classifier.batching.keys import SingleFlight
from classifier.batching.labeljobs import LabelJobs, LabelsWaiting, Owner, consume, encoded
from classifier.batching.maps import MapJobs
from classifier.batching.observer import WorkerObserver
from classifier.batching.pending import PendingPictures, Request, settle
from classifier.batching.schedule import ChunkSizer, Doorbell, Scheduler, Step, Wake
from classifier.batching.status import WorkerBusy, WorkerStats, WorkerStopped
from classifier.model.patchmap import MapUnsupported, supports_maps
from classifier.pictures.devicedecode import DeviceJpegDecoder
from classifier.pictures.images import ImageLimits
from classifier.pictures.overlay import LONG_SIDE_MAX, Overlay, draw_overlay
from classifier.zeroshot import LabelsNotCached, Prediction, ZeroShotClassifier

logger = logging.getLogger(__name__)

__all__ = ["BatchWorker", "WorkerBusy", "WorkerStats", "WorkerStopped"]


class BatchWorker:
    """Collects classify() calls into batches and runs them on the model in one thread.

    Decoding, resizing and cropping run in a small thread pool, in parallel with each
    other and with the model; all torch work runs on the classifier's one thread. A batch
    closes when it is full, when max_wait has passed, or at once when nothing more is on
    its way, so a lone request never waits for company.

    Labels nobody used before are encoded on the same thread in chunks of about one image
    batch's time, taken in turn from each label set waiting for them, with image batches in
    between (classifier/batching/schedule.py): a chat's new labels cost that chat, never everyone else's
    pictures. An image batch never encodes text: a picture whose labels left the text cache
    before its batch ran goes back through the chunked path and waits for them.

    A picture given with a key (what identifies its content) is encoded once: its embedding is
    kept in the classifier's image cache, and a caller whose key is cached or being encoded for
    another caller scores that embedding against its own labels with one small matrix product,
    with no fetching, decoding or encoding. A failure is shared by the callers waiting at the
    time and never kept: the next caller tries again.

    explain() draws where the model saw a label: the picture is fetched and decoded again (never
    kept), its map runs on the model thread as a step of its own between image batches, and the
    overlay is drawn in a decode thread.
    """

    def __init__(self, classifier: ZeroShotClassifier, limits: ImageLimits, *, observer: WorkerObserver,
                 max_batch: int = 32, max_wait_ms: float = 10.0, queue_size: int = 256, decode_threads: int = 2,
                 decode_on_device: bool = False, labels_waiting_per_owner: int = 0) -> None:
        self.classifier = classifier
        self.limits = limits
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.queue_size = queue_size
        self.stats = WorkerStats()
        self.observer = observer  # receives the timings (classifier/batching/observer.py)
        # JPEGs decoded in batches on the model's device (nvjpeg on a GPU); the rest through Pillow.
        self._decoder = PictureDecoder(classifier, limits, observer, decode_threads, decode_on_device,
                                       on_finished=lambda: self._doorbell.ring(Wake.DECODE_FINISHED))
        self._doorbell = Doorbell()
        self._pending = PendingPictures(max_batch, max_wait_ms / 1000, self._doorbell,
                                        decoding=lambda: self._decoder.decoding)
        self._labels = LabelJobs(on_queued=lambda: self._doorbell.ring(Wake.LABELS_QUEUED),
                                 per_owner=labels_waiting_per_owner)
        self._flights = SingleFlight(on_landed=lambda: self._doorbell.ring(Wake.CALLER_LEFT))
        self.maps = MapJobs(on_queued=lambda: self._doorbell.ring(Wake.MAP_QUEUED))
        self._square_crop = any("CenterCrop" in type(step).__name__ for step in classifier.picture_steps)
        self._scheduler = Scheduler()
        self._chunks = ChunkSizer()
        self._admitted = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the batching loop runs (started, and neither stopped nor crashed)."""
        return self._task is not None and not self._task.done()

    @property
    def load(self) -> int:
        """Requests accepted and not yet answered."""
        return self._admitted

    @property
    def decoding(self) -> int:
        """Pictures being fetched or prepared in the decode threads."""
        return self._decoder.decoding

    @property
    def labels_encoding(self) -> int:
        """Labels queued for the text encoder or being encoded."""
        return self._labels.labels_in_flight

    @property
    def label_turns(self) -> list[Owner]:
        """The owners of the latest chunks of labels encoded (up to 256), oldest first."""
        return list(self._labels.turns_taken)

    @property
    def closing(self) -> bool:
        """Whether stop() was called: no new request is taken."""
        return self._closing

    @property
    def device_decoder(self) -> DeviceJpegDecoder | None:
        """The decoder of JPEGs on the model's device, when decode_on_device asked for one."""
        return self._decoder.device_decoder

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
        self._decoder.shutdown()

    def prepare_labels(self, labels: Sequence[str], owner: Owner = None) -> asyncio.Future[list[None]]:
        """Start encoding the labels not cached yet, in owner's turns; the future is done when all of
        them are. Raises LabelsWaiting when owner has too many labels waiting already.

        Nobody has to await it: /labels calls it so the encoding starts before the chat's next
        picture arrives.
        """
        # Shielded: cancelling this future must not cancel labels other callers wait for too.
        done = asyncio.gather(*(asyncio.shield(future) for future in self._schedule(labels, owner)))
        done.add_done_callback(consume)
        return done

    def _schedule(self, labels: Sequence[str], owner: Owner, *, capped: bool = True) -> list[asyncio.Future[None]]:
        """Futures for the labels of a set that are not cached (classifier/batching/labeljobs.py)."""
        try:
            return self._labels.schedule(self.classifier.missing(labels), owner, capped=capped)
        except LabelsWaiting:
            self.stats.labels_refused += 1
            raise

    def _admit(self, labels: Sequence[str]) -> None:
        if self._closing or self._task is None:
            raise WorkerStopped("The classifier is not running.")
        if self._admitted >= self.queue_size:
            raise WorkerBusy(f"The classifier is busy ({self._admitted} pictures waiting); "
                             "try again in a few seconds.")
        if not labels:
            raise ValueError("At least one label is needed.")
        self._admitted += 1

    async def explain(self, image: ImageSource, labels: Sequence[str], label: str, *,
                      owner: Owner = None) -> Overlay:
        """The picture with a heat map of where it looks like label rather than the other labels
        (classifier/model/patchmap.py, classifier/pictures/overlay.py). Raises what classify() raises,
        and MapUnsupported for a model without patch tokens, before fetching anything."""
        if label not in labels:
            raise ValueError(f"The label {label!r} is not among the {len(labels)} labels.")
        if not supports_maps(self.classifier.clip.model):
            raise MapUnsupported(f"{self.classifier.clip.identity} cannot show where it looked.")
        self._admit(labels)
        try:
            labels_ready = self._schedule(labels, owner)
            picture, pixels = await self._decoder.view(image, LONG_SIDE_MAX)
            while True:
                await encoded(labels_ready)
                try:
                    grid = await self.maps.add(pixels, tuple(labels), label)
                    break
                except LabelsNotCached:  # they left the text cache meanwhile: through the chunked path again
                    self.stats.requeued += 1
                    labels_ready = self._schedule(labels, owner)
            return await self._decoder.run(draw_overlay, picture, grid, self._square_crop)
        finally:
            self._admitted -= 1
            self._doorbell.ring(Wake.CALLER_LEFT)

    async def classify(self, image: ImageSource, labels: Sequence[str], *, key: str | None = None,
                       owner: Owner = None, open_set: bool = False) -> Prediction:
        """Classify one picture against labels; raises ImageError, WorkerBusy, WorkerStopped or
        LabelsWaiting (owner has too many new labels waiting), and whatever fetching the picture
        raises. With a key, the picture is fetched and encoded only when no embedding of that key is
        cached or on its way (class docstring); new labels are encoded in owner's turns. With
        open_set, the prediction also says whether the picture shows none of the labels
        (classifier/openset.py)."""
        self._admit(labels)
        try:
            labels_ready = self._schedule(labels, owner)  # encoding starts while the picture is decoded
            distinct = len({self.classifier.reading(label) for label in labels})
            self.observer.labels_looked_up(distinct - len(labels_ready), len(labels_ready))
            # The negatives, once per model: the bot's own labels, in no chat's turns and under no cap.
            labels_ready += self._schedule(self.classifier.needed_labels((), open_set), None, capped=False)
            if key is not None:
                return await self._rank(await self._features(key, image), tuple(labels), open_set, labels_ready,
                                        owner)
            pixels = await self._decoder.prepare(image)
            request = Request(pixels, tuple(labels), asyncio.get_running_loop().create_future(), open_set)
            return await self._score(request, labels_ready, owner)
        finally:
            self._admitted -= 1
            self._doorbell.ring(Wake.CALLER_LEFT)

    async def _features(self, key: str, image: ImageSource) -> torch.Tensor:
        """The embedding of the picture with this key: cached, on its way for another caller, or made now."""
        features = self.classifier.images.get(key)
        self.observer.picture_looked_up(features is not None)
        if features is not None:
            self.stats.cache_hits += 1
            return features
        flight, joined = self._flights.board(key, lambda: self._embed(key, image))
        if joined:
            self.stats.joined += 1
        return await flight

    async def _embed(self, key: str, image: ImageSource) -> torch.Tensor:
        """Fetch, decode and encode a picture for every caller of its key; cache the embedding."""
        request = Request(await self._decoder.prepare(image), None, asyncio.get_running_loop().create_future())
        self._pending.add(request)
        features = cast(torch.Tensor, await request.future)
        self.classifier.images.put(key, features)
        return features

    async def _rank(self, features: torch.Tensor, labels: tuple[str, ...], open_set: bool,
                    labels_ready: list[asyncio.Future[None]], owner: Owner) -> Prediction:
        """An embedding scored against labels once they are encoded, on the event loop: a (1, D) by
        (D, L) product takes microseconds, where the model thread may be a whole batch away."""
        while True:
            await encoded(labels_ready)
            try:
                return self.classifier.score_cached(features[None], labels, open_set)[0]
            except LabelsNotCached:  # they left the text cache meanwhile: through the chunked path again
                self.stats.requeued += 1
                labels_ready = self._schedule(self.classifier.needed_labels(labels, open_set), owner, capped=False)

    async def _score(self, request: Request, labels_ready: list[asyncio.Future[None]], owner: Owner) -> Prediction:
        """Queue a prepared picture once its labels are encoded; when they left the cache before its
        batch ran, encode them again (through the chunked path) and queue it again."""
        while True:
            await encoded(labels_ready)
            self._pending.add(request)
            try:
                return cast(Prediction, await request.future)
            except LabelsNotCached:
                self.stats.requeued += 1
                request.future = asyncio.get_running_loop().create_future()
                needed = self.classifier.needed_labels(request.labels or (), request.open_set)
                labels_ready = self._schedule(needed, owner, capped=False)

    async def _run(self) -> None:
        while True:
            self._doorbell.reset()  # before reading the state: a ring from now on is not missed
            step = self._scheduler.next(pictures=bool(self._pending), text=self._labels.waiting,
                                        closing=self._closing, unanswered=self._admitted + len(self._flights),
                                        maps=self.maps.waiting)
            if step is Step.IMAGES:
                await self._run_images(await self._pending.collect())
            elif step is Step.TEXT:
                await self._run_text_chunk()
            elif step is Step.MAP:
                await self.maps.run_next(self.classifier)
            elif step is Step.STOP:
                return
            else:
                await self._doorbell.wait()

    async def _run_images(self, batch: list[Request]) -> None:
        live = [request for request in batch if not request.future.done()]
        if not live:
            return
        self.stats.batches += 1
        self.stats.images += len(live)
        self.stats.largest_batch = max(self.stats.largest_batch, len(live))
        started = time.perf_counter()
        results = await run_batch(self.classifier.executor, self._infer, live)
        elapsed = time.perf_counter() - started
        self._chunks.batch_done(elapsed)
        self.observer.batch_done([started - request.queued_at for request in live], elapsed)
        settle(live, results)

    def _infer(self, batch: list[Request]) -> list[Prediction | torch.Tensor | Exception]:
        return infer(self.classifier, self._decoder.device_decoder, [(r.pixels, r.labels, r.open_set) for r in batch])

    async def _run_text_chunk(self) -> None:
        """Encode the next few labels of the job whose turn it is; it goes to the back of the line."""
        chunk = self._labels.next_chunk(self._chunks.size())
        started = time.perf_counter()
        try:
            await asyncio.get_running_loop().run_in_executor(self.classifier.executor,
                                                             self.classifier.encode_labels, chunk)
        except Exception as exc:
            logger.exception("Encoding %d labels failed", len(chunk))
            self._labels.failed(chunk, exc)
            return
        self.stats.text_chunks += 1
        self.stats.labels_encoded += len(chunk)
        elapsed = time.perf_counter() - started
        self._chunks.chunk_done(len(chunk), elapsed)
        self.observer.text_encoded(len(chunk), elapsed)
        self._labels.encoded(chunk)

