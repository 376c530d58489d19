"""What the batching worker reports as it works, for whoever keeps the numbers (the bot's metrics).

The worker calls these on the event loop, with plain numbers; the default does nothing, so the
classifier needs no metrics library and a caller that watches nothing pays nothing.
"""

from __future__ import annotations

from collections.abc import Sequence


class WorkerObserver:
    """Override the calls you care about. They must be quick and must not raise."""

    def picture_prepared(self, seconds: float) -> None:
        """One picture was decoded, resized and cropped (seconds include waiting for a decode thread)."""

    def batch_done(self, queue_waits: Sequence[float], model_seconds: float) -> None:
        """One image batch ran: how long each of its pictures waited in the queue, and the model's time."""

    def labels_looked_up(self, hits: int, misses: int) -> None:
        """A picture's labels were looked up in the text-embedding cache."""

    def picture_looked_up(self, hit: bool) -> None:
        """A keyed picture was looked up in the image-embedding cache (a miss is encoded, or joins the
        caller already encoding it)."""

    def text_encoded(self, labels: int, seconds: float) -> None:
        """A chunk of new labels went through the text encoder."""
