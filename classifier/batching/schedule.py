"""The worker's schedule: what runs next on the model thread, and how much text fits in a turn.

The rule: pictures and new labels take turns. After an image batch, one chunk of text encoding
runs if a label set is waiting for it; after a chunk, the next image batch if pictures are
waiting. A chunk is sized to take about as long as a recent image batch, so a chat's new labels
cost every other chat at most one batch's time per turn, and that chat's pictures wait for their
own labels only. A map of where the model looked (one picture's pass, about one batch of one) is
a side step like a chunk: it runs between image batches, taking turns with text when both wait.
"""

from __future__ import annotations

import asyncio
from enum import Enum

# A chunk of text encoding takes about one image batch's time, never less than this.
MIN_TEXT_CHUNK_SECONDS = 0.05
# Exponential smoothing of the measurements the chunk size is computed from: image batches vary
# with their size, so they are smoothed more; the cost of a label is steadier.
BATCH_SECONDS_WEIGHT = 0.2  # weight of the newest image batch's time
LABEL_SECONDS_WEIGHT = 0.3  # weight of the newest chunk's time per label


class Step(Enum):
    """What the model thread does next."""

    IMAGES = "images"  # one image batch
    TEXT = "text"  # one chunk of a waiting label set
    MAP = "map"  # one picture's map of where the model looked
    WAIT = "wait"  # nothing to do: sleep until a wake-up
    STOP = "stop"  # closing, and every accepted request is answered


class Wake(Enum):
    """Why the worker's loop was woken up."""

    PICTURE_QUEUED = "picture queued"  # a prepared picture waits for a batch
    DECODE_FINISHED = "decode finished"  # one fewer picture on its way: a batch may close now
    LABELS_QUEUED = "labels queued"  # a label set waits for its new labels
    MAP_QUEUED = "map queued"  # a picture waits for its map
    CALLER_LEFT = "caller left"  # a request was answered, failed or cancelled
    CLOSING = "closing"  # stop() was called


class Scheduler:
    """Answers "what runs next on the model thread": images and side steps (text, maps) in turns
    (module docstring)."""

    def __init__(self) -> None:
        self.last: Step | None = None
        self._last_side = Step.MAP  # text goes first when text and a map both wait

    def next(self, *, pictures: bool, text: bool, closing: bool, unanswered: int, maps: bool = False) -> Step:
        """The next step, given whether pictures, text and maps wait, whether the worker is closing,
        and how many accepted requests are still unanswered."""
        if (text or maps) and (self.last is Step.IMAGES or not pictures):
            step = Step.TEXT if text and (not maps or self._last_side is Step.MAP) else Step.MAP
            self._last_side = step
        elif pictures:
            step = Step.IMAGES
        elif closing and unanswered == 0:
            step = Step.STOP
        else:
            step = Step.WAIT
        self.last = step
        return step


class ChunkSizer:
    """How many labels one turn of text encoding takes: about one image batch's time."""

    def __init__(self) -> None:
        self.batch_seconds = MIN_TEXT_CHUNK_SECONDS  # recent image batches' time, smoothed
        self.label_seconds: float | None = None  # what encoding one label costs, smoothed

    def batch_done(self, seconds: float) -> None:
        self.batch_seconds += BATCH_SECONDS_WEIGHT * (seconds - self.batch_seconds)

    def chunk_done(self, labels: int, seconds: float) -> None:
        if labels == 0:
            return
        per_label = seconds / labels
        if self.label_seconds is None:
            self.label_seconds = per_label
        else:
            self.label_seconds += LABEL_SECONDS_WEIGHT * (per_label - self.label_seconds)

    def size(self) -> int:
        """Labels in the next chunk: one until a label's cost is known."""
        if self.label_seconds is None:
            return 1
        return max(1, int(max(MIN_TEXT_CHUNK_SECONDS, self.batch_seconds) / self.label_seconds))


class Doorbell:
    """Wakes the worker's loop; every ring names its reason (Wake), kept until the loop listens again."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.reasons: set[Wake] = set()

    def ring(self, reason: Wake) -> None:
        self.reasons.add(reason)
        self._event.set()

    def reset(self) -> None:
        """Forget earlier rings: called before checking the state the loop is about to wait on."""
        self.reasons.clear()
        self._event.clear()

    async def wait(self) -> None:
        await self._event.wait()
