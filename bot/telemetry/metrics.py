"""The bot's Prometheus metrics: one registry per application (never the global one), every name
starting with toonclip_, and the worker's timings turned into them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from enum import Enum
from importlib.metadata import PackageNotFoundError, version
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector
from telegram.ext import CallbackContext

from bot.telemetry.recent import RecentAnswers
from classifier.batching.observer import WorkerObserver

METRICS_KEY = "toonclip-metrics"  # bot_data key of the Metrics, set when the application is built
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
LOOP_LAG_INTERVAL = 0.5  # seconds between the event-loop lag probe's wake-ups


class Outcome(Enum):
    """How a picture was answered."""

    PREDICTION = "prediction"
    REFUSED = "refused"  # not a picture, damaged, too large
    BUSY = "busy"  # the queue was full, or the bot is stopping
    RATE_LIMITED = "rate_limited"
    ERROR = "error"  # the download failed, or something broke (the user got an apology)


class Dropped(Enum):
    """Why an update, or its answer, was dropped unanswered (docs/limits.md)."""

    RATE_LIMITED = "rate_limited"  # over UPDATES_PER_MINUTE_PER_USER or UPDATES_PER_MINUTE_PER_CHAT
    TOO_LATE = "too_late"  # older than REPLY_MAX_AGE_SECONDS when its turn came (to be handled, or sent)


class Stage(Enum):
    """Where a picture's time goes, in order."""

    DOWNLOAD = "download"
    DECODE = "decode"
    QUEUE_WAIT = "queue_wait"
    MODEL = "model"
    SEND = "send"


class ApiError(Enum):
    """Kinds of failed Bot API requests."""

    TIMEOUT = "timeout"
    TOO_MANY_REQUESTS = "429"
    FORBIDDEN = "forbidden"
    OTHER = "other"


def package_version() -> str:
    try:
        return version("toonclip")
    except PackageNotFoundError:
        return "unknown"


class Metrics:
    """Everything the bot counts. Cheap to update from the event loop; scraped from another thread."""

    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry()
        self.started = time.monotonic()
        self.updates = Counter("toonclip_updates", "Updates received from Telegram, by kind", ["kind"],
                               registry=registry)
        self.dropped = Counter("toonclip_updates_dropped", "Updates or answers dropped unanswered, by reason",
                               ["reason"], registry=registry)
        self.answers = Counter("toonclip_answers", "Pictures answered, by outcome", ["outcome"], registry=registry)
        self.api_errors = Counter("toonclip_telegram_errors", "Failed Bot API requests, by method and kind",
                                  ["method", "kind"], registry=registry)
        self.label_cache_hits = Counter("toonclip_label_cache_hits", "Labels found in the text-embedding cache",
                                        registry=registry)
        self.label_cache_misses = Counter("toonclip_label_cache_misses", "Labels that had to be encoded first",
                                          registry=registry)
        self.image_cache_hits = Counter("toonclip_image_cache_hits", "Pictures found in the image-embedding cache",
                                        registry=registry)
        self.image_cache_misses = Counter("toonclip_image_cache_misses",
                                          "Pictures not cached (downloaded and encoded, or joining that)",
                                          registry=registry)
        self.stage_seconds = Histogram("toonclip_stage_seconds", "Seconds a picture spent in each stage",
                                       ["stage"], buckets=LATENCY_BUCKETS, registry=registry)
        self.answer_seconds = Histogram("toonclip_answer_seconds",
                                        "Seconds from the update to its prediction sent (end to end)",
                                        buckets=LATENCY_BUCKETS, registry=registry)
        self.batch_size = Histogram("toonclip_batch_size", "Pictures per model batch", buckets=BATCH_BUCKETS,
                                    registry=registry)
        self.text_encoding_seconds = Histogram("toonclip_text_encoding_seconds",
                                               "Seconds per chunk of new labels through the text encoder",
                                               buckets=LATENCY_BUCKETS, registry=registry)
        self.labels_encoded = Counter("toonclip_labels_encoded", "New labels encoded", registry=registry)
        self.queue_depth = Gauge("toonclip_queue_depth", "Pictures accepted by the classifier and not yet answered",
                                 registry=registry)
        self.queue_capacity = Gauge("toonclip_queue_capacity", "QUEUE_SIZE: past it, users are told the bot is busy",
                                    registry=registry)
        self.in_flight = Gauge("toonclip_pictures_in_flight", "Pictures being downloaded or classified",
                               registry=registry)
        self.loop_lag = Gauge("toonclip_event_loop_lag_seconds", "How late the event loop last woke up",
                              registry=registry)
        self.last_poll = Gauge("toonclip_last_poll_timestamp_seconds", "Unix time of the last answered getUpdates",
                               registry=registry)
        self.build = Info("toonclip_build", "Model, weights, device, precision and version", registry=registry)
        ProcessCollector(namespace="toonclip", registry=registry)
        self.polled_at: float | None = None  # time.monotonic() of the last answered getUpdates
        self.recent = RecentAnswers()
        # Children made once: .labels() costs a lock and a lookup on every call.
        self._answers = {outcome: self.answers.labels(outcome.value) for outcome in Outcome}
        self._stages = {stage: self.stage_seconds.labels(stage.value) for stage in Stage}

    def dropped_one(self, reason: Dropped) -> None:
        self.dropped.labels(reason.value).inc()

    def answered(self, outcome: Outcome) -> None:
        self._answers[outcome].inc()

    def observe(self, stage: Stage, seconds: float) -> None:
        self._stages[stage].observe(seconds)

    def prediction_sent(self, send_seconds: float, total_seconds: float) -> None:
        """A prediction reached Telegram: the send stage, the end-to-end time and /stats' window."""
        self._answers[Outcome.PREDICTION].inc()
        self._stages[Stage.SEND].observe(send_seconds)
        self.answer_seconds.observe(total_seconds)
        self.recent.add(total_seconds)

    def api_error(self, method: str, kind: ApiError) -> None:
        self.api_errors.labels(method, kind.value).inc()

    def polled(self) -> None:
        """getUpdates was answered: Telegram is reachable and the updater is alive."""
        self.polled_at = time.monotonic()
        self.last_poll.set(time.time())

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float:
        """One sample's current value (0 when absent), read through the registry."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def label_hit_ratio(self) -> float | None:
        """Label lookups found in the text-embedding cache, as a share; None before the first."""
        hits, misses = _current(self.label_cache_hits), _current(self.label_cache_misses)
        return hits / (hits + misses) if hits + misses else None

    def pictures_in_flight(self) -> int:
        return int(_current(self.in_flight))

    async def watch_loop_lag(self, interval: float = LOOP_LAG_INTERVAL) -> None:
        """Sleep interval over and over and record how late each wake-up was; runs until cancelled."""
        while True:
            started = time.perf_counter()
            await asyncio.sleep(interval)
            self.loop_lag.set(max(0.0, time.perf_counter() - started - interval))


class WorkerMetrics(WorkerObserver):
    """The worker's timings as metrics: every picture gets its decode, queue-wait and model times."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._decode = metrics.stage_seconds.labels(Stage.DECODE.value)
        self._queue_wait = metrics.stage_seconds.labels(Stage.QUEUE_WAIT.value)
        self._model = metrics.stage_seconds.labels(Stage.MODEL.value)

    def picture_prepared(self, seconds: float) -> None:
        self._decode.observe(seconds)

    def batch_done(self, queue_waits: Sequence[float], model_seconds: float) -> None:
        for wait in queue_waits:
            self._queue_wait.observe(wait)
            self._model.observe(model_seconds)  # each picture of the batch waited for all of it
        self.metrics.batch_size.observe(len(queue_waits))

    def labels_looked_up(self, hits: int, misses: int) -> None:
        if hits:
            self.metrics.label_cache_hits.inc(hits)
        if misses:
            self.metrics.label_cache_misses.inc(misses)

    def picture_looked_up(self, hit: bool) -> None:
        (self.metrics.image_cache_hits if hit else self.metrics.image_cache_misses).inc()

    def text_encoded(self, labels: int, seconds: float) -> None:
        self.metrics.text_encoding_seconds.observe(seconds)
        self.metrics.labels_encoded.inc(labels)


def metrics_of(context: CallbackContext[Any, Any, Any, Any]) -> Metrics:
    return cast(Metrics, context.bot_data[METRICS_KEY])


def _current(metric: Counter | Gauge) -> float:
    """The value of a metric without labels, through prometheus-client's public collect()."""
    for family in metric.collect():
        for sample in family.samples:
            if sample.name in (family.name, f"{family.name}_total"):
                return sample.value
    return 0.0
