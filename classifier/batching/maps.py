"""Maps of where the model looked, waiting for the model thread: one job per picture, run one at a
time between image batches (classifier/batching/schedule.py, Step.MAP)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from classifier.batching.inference import InternalError
from classifier.zeroshot import LabelsNotCached, ZeroShotClassifier

logger = logging.getLogger(__name__)


@dataclass
class MapJob:
    """One prepared picture, the labels its answer chose from, and the label to map."""

    pixels: np.ndarray
    labels: tuple[str, ...]
    label: str
    future: asyncio.Future[np.ndarray]


class MapJobs:
    """The maps waiting for the model thread, first come first served; cancelled callers are skipped."""

    def __init__(self, on_queued: Callable[[], None]) -> None:
        self._jobs: deque[MapJob] = deque()
        self._on_queued = on_queued
        self.made = 0
        self.last_seconds = 0.0  # the model thread's time for the latest map

    @property
    def waiting(self) -> bool:
        return any(not job.future.done() for job in self._jobs)

    def add(self, pixels: np.ndarray, labels: tuple[str, ...], label: str) -> asyncio.Future[np.ndarray]:
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._jobs.append(MapJob(pixels, labels, label, future))
        self._on_queued()
        return future

    async def run_next(self, classifier: ZeroShotClassifier) -> None:
        """The next live job's map, on the classifier's thread; its failure is its caller's alone."""
        while self._jobs and self._jobs[0].future.done():
            self._jobs.popleft()
        if not self._jobs:
            return
        job = self._jobs.popleft()
        started = time.perf_counter()
        try:
            grid = await asyncio.get_running_loop().run_in_executor(
                classifier.executor, classifier.patch_map, job.pixels, job.labels, job.label)
        except LabelsNotCached as exc:  # evicted since they were encoded: the caller encodes them again
            failure: Exception = exc
        except Exception as exc:
            logger.exception("A map failed in the model")
            failure = InternalError("internal error")
            failure.__cause__ = exc
        else:
            self.made += 1
            self.last_seconds = time.perf_counter() - started
            if not job.future.done():
                job.future.set_result(grid)
            return
        if not job.future.done():
            job.future.set_exception(failure)
