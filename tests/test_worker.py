from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from classifier import (
    DEFAULT_LABELS,
    BatchWorker,
    ClassifierSettings,
    ImageError,
    InternalError,
    Prediction,
    WorkerBusy,
    WorkerStopped,
    ZeroShotClassifier,
    create_classifier,
    create_worker,
)
from tests.conftest import sample


def make_worker(settings: ClassifierSettings, classifier: ZeroShotClassifier, **changes: object) -> BatchWorker:
    """A started worker with some settings changed, the default labels encoded (as the bot does at start)."""
    classifier.executor.submit(classifier.encode_labels, classifier.missing(DEFAULT_LABELS)).result()
    w = create_worker(ClassifierSettings(**{**settings.__dict__, **changes}), classifier)
    w.start()
    return w


@pytest.fixture
async def worker(settings: ClassifierSettings, classifier: ZeroShotClassifier) -> AsyncIterator[BatchWorker]:
    w = make_worker(settings, classifier, batch_max_wait_ms=2000)
    yield w
    await w.stop()


def hold_model(worker: BatchWorker) -> threading.Event:
    """Occupy the worker's model thread until the returned event is set."""
    gate = threading.Event()
    worker.classifier.executor.submit(gate.wait)
    return gate


def submit(worker: BatchWorker, samples_dir: Path, labels: tuple[str, ...]) -> list[asyncio.Future[Prediction]]:
    """One classify() call per label's sample, running in the background."""
    return [asyncio.ensure_future(worker.classify(sample(samples_dir, label), DEFAULT_LABELS)) for label in labels]


async def until(condition: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_concurrent_requests_share_batches(worker: BatchWorker, samples_dir: Path) -> None:
    labels = list(DEFAULT_LABELS)
    jobs = [worker.classify(sample(samples_dir, label, i), labels) for label in labels for i in range(2)]
    predictions = await asyncio.gather(*jobs)
    assert [p.label for p in predictions] == [label for label in labels for _ in range(2)]
    assert worker.stats.images == 20
    assert worker.stats.batches < 20
    assert worker.stats.largest_batch > 1


async def test_different_label_sets_share_one_batch(worker: BatchWorker, samples_dir: Path) -> None:
    gate = hold_model(worker)
    first = asyncio.ensure_future(worker.classify(sample(samples_dir, "pig"), ["pig", "duck"]))
    second = asyncio.ensure_future(worker.classify(sample(samples_dir, "duck"), ["lion", "duck", "bear"]))
    await until(lambda: worker.load == 2 and worker.decoding == 0)
    gate.set()
    assert (await first).label == "pig"
    assert (await second).label == "duck"
    assert worker.stats.batches == 1


async def test_a_lone_request_does_not_wait_for_the_batch_timeout(
    settings: ClassifierSettings, classifier: ZeroShotClassifier, samples_dir: Path
) -> None:
    w = make_worker(settings, classifier, batch_max_wait_ms=60_000)
    try:
        prediction = await asyncio.wait_for(w.classify(sample(samples_dir, "cat"), DEFAULT_LABELS), 10)
        assert prediction.label == "cat"
    finally:
        await w.stop()


async def test_a_bad_picture_fails_only_its_caller(worker: BatchWorker, samples_dir: Path) -> None:
    results = await asyncio.gather(
        worker.classify(sample(samples_dir, "fox"), DEFAULT_LABELS),
        worker.classify(b"not a picture", DEFAULT_LABELS),
        worker.classify(sample(samples_dir, "bear"), DEFAULT_LABELS),
        return_exceptions=True,
    )
    assert results[0].label == "fox"  # type: ignore[union-attr]
    assert isinstance(results[1], ImageError)
    assert results[2].label == "bear"  # type: ignore[union-attr]


@pytest.mark.parametrize(("batch_size", "run"), [(1, 2), (32, 3)])
async def test_a_cancelled_caller_is_skipped(
    settings: ClassifierSettings, classifier: ZeroShotClassifier, samples_dir: Path, batch_size: int, run: int
) -> None:
    """Cancelled while queued: never run. Cancelled while its batch runs: its answer is dropped."""
    worker = make_worker(settings, classifier, batch_max_size=batch_size, batch_max_wait_ms=2000)
    gate = hold_model(worker)
    calls = submit(worker, samples_dir, ("cat",))
    if batch_size == 1:  # the cat alone goes first, so the dog is still queued when cancelled
        await until(lambda: worker.stats.batches == 1)
    calls += submit(worker, samples_dir, ("dog", "fox"))
    await until(lambda: worker.decoding == 0 and worker.load == 3)
    if batch_size > 1:  # all three taken into the batch the model is held on, before the cancel
        await until(lambda: worker.stats.batches == 1)
    calls[1].cancel()
    gate.set()
    assert (await calls[0]).label == "cat"
    assert (await calls[2]).label == "fox"
    with pytest.raises(asyncio.CancelledError):
        await calls[1]
    assert worker.stats.images == run
    assert worker.load == 0
    assert (await worker.classify(sample(samples_dir, "duck"), DEFAULT_LABELS)).label == "duck"
    await worker.stop()


async def test_a_full_queue_says_busy_at_once(
    settings: ClassifierSettings, classifier: ZeroShotClassifier, samples_dir: Path
) -> None:
    w = make_worker(settings, classifier, queue_size=2)
    gate = hold_model(w)
    accepted = submit(w, samples_dir, ("cat", "cat"))
    await until(lambda: w.load == 2)
    with pytest.raises(WorkerBusy, match="busy"):
        await w.classify(sample(samples_dir, "dog"), DEFAULT_LABELS)
    gate.set()
    assert [(await a).label for a in accepted] == ["cat", "cat"]
    assert (await w.classify(sample(samples_dir, "dog"), DEFAULT_LABELS)).label == "dog"
    await w.stop()


async def test_stop_answers_everything_accepted_then_refuses(
    settings: ClassifierSettings, classifier: ZeroShotClassifier, samples_dir: Path
) -> None:
    w = make_worker(settings, classifier, batch_max_size=2)
    gate = hold_model(w)
    labels = ("rabbit", "mouse", "lion", "pig", "elephant")
    accepted = submit(w, samples_dir, labels)
    await until(lambda: w.load == 5)
    stopping = asyncio.ensure_future(w.stop())
    await until(lambda: w.closing)
    with pytest.raises(WorkerStopped):
        await w.classify(sample(samples_dir, "cat"), DEFAULT_LABELS)
    gate.set()
    await stopping
    assert [(await a).label for a in accepted] == list(labels)


async def test_label_sets_take_turns_on_the_model_thread(settings: ClassifierSettings, tiny_model: object) -> None:
    templates = tuple(f"sketch {i} of a {{}}" for i in range(512))  # each label costs a few ms
    slow_labels = ClassifierSettings(**{**settings.__dict__, "templates": templates})
    w = make_worker(slow_labels, create_classifier(slow_labels))
    try:
        first = w.prepare_labels([f"first{i}" for i in range(40)])
        second = w.prepare_labels(["second0", "second1"])
        await second
        assert not first.done()  # the second set did not wait for all of the first
        await first
        assert w.stats.text_chunks > 2
        assert w.classifier.missing([f"first{i}" for i in range(40)]) == []
    finally:
        await w.stop()


async def test_an_unexpected_failure_fails_only_its_caller(worker: BatchWorker, samples_dir: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    import io

    from PIL import Image

    gate = hold_model(worker)  # all four land in one batch
    broken = Image.open(io.BytesIO(sample(samples_dir, "lion")))
    broken.load()
    broken.close()  # any use of its pixels now raises ValueError, an error no decoder foresaw
    calls = [*submit(worker, samples_dir, ("fox", "bear")),
             asyncio.ensure_future(worker.classify(broken, DEFAULT_LABELS)),
             *submit(worker, samples_dir, ("pig",))]
    await until(lambda: worker.decoding == 0 and worker.load == 3)
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r.label for r in results if isinstance(r, Prediction)] == ["fox", "bear", "pig"]
    assert isinstance(results[2], InternalError)
    assert "Preparing a picture failed" in caplog.text and "Traceback" in caplog.text
    assert worker.stats.batches == 1


async def test_labels_evicted_before_their_batch_are_encoded_again_in_chunks_never_inline(
        settings: ClassifierSettings, samples_dir: Path) -> None:
    classifier = create_classifier(replace(settings, text_cache_entries=len(DEFAULT_LABELS)))
    w = make_worker(settings, classifier, batch_max_wait_ms=2000)
    try:
        gate = hold_model(w)
        call = asyncio.ensure_future(w.classify(sample(samples_dir, "fox"), DEFAULT_LABELS))
        await until(lambda: w.stats.batches == 1)  # its labels were cached; its batch waits for the model
        vector = classifier.cache.get("cat")
        assert vector is not None
        classifier.cache.put_many({f"other {i}": vector for i in range(len(DEFAULT_LABELS))})  # LRU: all evicted
        assert classifier.missing(DEFAULT_LABELS) == list(DEFAULT_LABELS)
        encoded, chunked, chunks = classifier.encoded_labels, w.stats.labels_encoded, w.stats.text_chunks
        gate.set()
        assert (await call).label == "fox"
        assert w.stats.requeued == 1
        assert w.stats.text_chunks > chunks
        # every label encoded again went through the chunked path: none inside the image batch
        assert classifier.encoded_labels - encoded == w.stats.labels_encoded - chunked == len(DEFAULT_LABELS)
    finally:
        await w.stop()
        classifier.close()
