"""Pictures prepared for a batch: fetched when they are a fetch, then decoded, resized and cropped in
a few decode threads, in parallel with each other and with the model, within one budget of decode
memory they all share. JPEGs may instead be checked from their header here and decoded with their
batch on the model's device."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

import numpy as np
from PIL import Image

from classifier.batching.inference import InternalError
from classifier.batching.observer import WorkerObserver
from classifier.pictures.budget import DecodeBudget
from classifier.pictures.devicedecode import DeviceJpegDecoder, JpegHeader, read_jpeg_header
from classifier.pictures.images import ImageError, ImageLimits, decode_image, to_rgb
from classifier.zeroshot import ZeroShotClassifier

logger = logging.getLogger(__name__)

# A picture: its bytes, a decoded image, or a coroutine function that fetches the bytes (a download),
# called only when the picture's embedding is neither cached nor being made for another caller.
ImageSource = bytes | Image.Image | Callable[[], Awaitable[bytes]]
P = ParamSpec("P")
R = TypeVar("R")


class PictureDecoder:
    """Owns the decode threads and their one memory budget (limits.max_decode_bytes, however many
    threads), and counts the pictures in them (the worker's batch waits for those)."""

    def __init__(self, classifier: ZeroShotClassifier, limits: ImageLimits, observer: WorkerObserver,
                 threads: int, on_device: bool, on_finished: Callable[[], None]) -> None:
        self._classifier = classifier
        self._limits = limits
        self._observer = observer
        self._on_finished = on_finished
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="toonclip-decode")
        self.budget = DecodeBudget(limits.max_decode_bytes)
        # JPEGs decoded in batches on the model's device (nvjpeg on a GPU); the rest through Pillow.
        self.device_decoder = (DeviceJpegDecoder(classifier.clip.device, classifier.picture_steps)
                               if on_device else None)
        self.decoding = 0

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    async def prepare(self, image: ImageSource) -> np.ndarray | JpegHeader:
        """The picture (fetched first when it is a fetch), prepared for a batch in a decode thread."""
        if not isinstance(image, bytes | Image.Image):
            image = await image()
        self.decoding += 1
        try:
            started = time.perf_counter()
            pixels = await asyncio.get_running_loop().run_in_executor(self._pool, self._prepare, image)
            self._observer.picture_prepared(time.perf_counter() - started)
            return pixels
        except (ImageError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or a library's surprise: this caller's failure alone
            logger.exception("Preparing a picture failed")
            raise InternalError("internal error") from exc
        finally:
            self.decoding -= 1
            self._on_finished()

    async def view(self, image: ImageSource, side: int) -> tuple[Image.Image, np.ndarray]:
        """The picture upright, decoded for showing (its short side at least side where it has that
        many pixels), and prepared for the model: always through Pillow, and not counted in decoding
        (image batches do not wait for it)."""
        if not isinstance(image, bytes | Image.Image):
            image = await image()
        return await self.run(self._view, image, side)

    async def run(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Picture work (drawing, encoding a JPEG) in a decode thread, off the event loop and the model's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: work(*args, **kwargs))

    def _view(self, image: bytes | Image.Image, side: int) -> tuple[Image.Image, np.ndarray]:
        picture = (to_rgb(image) if isinstance(image, Image.Image)
                   else decode_image(image, self._limits, side, self.budget, trim=False))  # its whole shape
        return picture, self._classifier.prepare(picture)

    def _prepare(self, image: bytes | Image.Image) -> np.ndarray | JpegHeader:
        if isinstance(image, Image.Image):
            picture = to_rgb(image)
        elif self.device_decoder is not None and (header := read_jpeg_header(image, self._limits)):
            return header  # checked from its header here; decoded with its batch on the device
        else:
            picture = decode_image(image, self._limits, self._classifier.image_size, self.budget)
        return self._classifier.prepare(picture)
