"""What the worker says besides answers: its refusals (busy, stopped) and its counters."""

from __future__ import annotations

from dataclasses import dataclass


class WorkerBusy(RuntimeError):
    """The queue is full; the caller should try again shortly."""


class WorkerStopped(RuntimeError):
    """The worker is stopping or stopped and takes no new requests."""


@dataclass
class WorkerStats:
    """Counters for tests, logs and the benchmark."""

    batches: int = 0
    images: int = 0
    largest_batch: int = 0
    text_chunks: int = 0
    labels_encoded: int = 0  # through the chunked path, the only one the worker takes
    requeued: int = 0  # pictures sent back because their labels left the text cache before their batch
    cache_hits: int = 0  # pictures answered from the image-embedding cache
    joined: int = 0  # pictures answered by another caller's encoding of the same picture key
    labels_refused: int = 0  # label sets refused because their owner had too many labels waiting
