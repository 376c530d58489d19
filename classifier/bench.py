"""python -m classifier bench: the classifier's path measured side by side, in one run.

Keys (see README, Performance): raw_img_per_s, worker_img_per_s, worker_vs_raw, model_single_ms,
single_p50_ms, single_p99_ms, single_overhead_ms (with its p10/p90), text_encode_ms, text_cached_ms,
decode_full_ms, decode_draft_ms, decode_speedup, label_change_stall_ms (with its p10/p90), explain_ms,
explain_e2e_ms, explain_batch_share (a map of where the model looked), open_set_ms, open_set_negatives,
negatives_encode_ms; plus the
device, model and batch settings. The bot's keys come from `python -m bot bench` (bot/bench.py),
which builds on these; the classifier knows nothing of the bot.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import platform
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from classifier.batching.worker import BatchWorker
from classifier.factory import create_classifier, create_worker, image_limits
from classifier.pictures.images import decode_image
from classifier.settings import ClassifierSettings
from classifier.text.labels import DEFAULT_LABELS
from classifier.zeroshot import ZeroShotClassifier

logger = logging.getLogger(__name__)

# What the bot downloads for a 256-pixel model: Telegram's 320-pixel photo size.
PHOTO_SIZE = (320, 240)
DECODE_SIZE = (1280, 960)
SINGLE_RUNS = 40
EXPLAIN_RUNS = 10


def test_jpeg(size: tuple[int, int], seed: int = 0) -> bytes:
    """A JPEG with some structure (flat images decode unrealistically fast)."""
    # numpy, not torch: torch work outside the model's thread would slow the model (README, Performance)
    noise = np.random.default_rng(seed).integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    image = Image.fromarray(noise).resize(size, Image.Resampling.BICUBIC)
    pen = ImageDraw.Draw(image)
    pen.ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill=(240, 140, 30))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def raw_throughput(classifier: ZeroShotClassifier, batch_size: int, seconds: float) -> float:
    """Images per second through the image encoder alone, fed prepared uint8 pictures from host
    memory as the worker feeds it: upload, normalisation on the device, encoding."""
    clip = classifier.clip
    noise = np.random.default_rng(0).integers(0, 256, (batch_size, clip.image_size, clip.image_size, 3))
    pictures = list(noise.astype(np.uint8))
    classifier.encode_pictures(pictures)  # warm-up
    _sync(clip.device)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        classifier.encode_pictures(pictures)
        done += batch_size
    _sync(clip.device)
    return done / (time.perf_counter() - started)


async def worker_throughput(settings: ClassifierSettings, classifier: ZeroShotClassifier, seconds: float) -> float:
    """Pictures per second through classify(), fed by 3 × BATCH_MAX_SIZE concurrent callers."""
    worker = create_worker(settings, classifier)
    worker.start()
    labels = settings.default_labels
    photos = [test_jpeg(PHOTO_SIZE, seed) for seed in range(8)]
    try:
        await worker.classify(photos[0], labels)  # warm-up, and the labels' text encoding
        done = 0
        deadline = time.perf_counter() + seconds

        async def caller(i: int) -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await worker.classify(photos[(i + done) % len(photos)], labels)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller(i) for i in range(min(settings.queue_size, 3 * settings.batch_max_size))))
        return done / (time.perf_counter() - started)
    finally:
        await worker.stop()


def spread(values: list[float]) -> dict[str, float]:
    """Median, p10, p90 and p99 of a list of measurements."""
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"p50": statistics.median(ordered), "p10": at(0.10), "p90": at(0.90), "p99": at(0.99)}


async def timed_ms(call: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def paired_latency(classifier: ZeroShotClassifier, worker: BatchWorker, photo: bytes, runs: int,
                         round_trip: Callable[[], Awaitable[None]] | None = None) -> dict[str, float]:
    """One request at a time, in interleaved triples: the model alone on a batch of one, the
    same photo through the worker, then (when given) through the bot. Each overhead is the
    median of the differences within a triple, so a machine whose speed drifts between
    phases cannot make it negative or noisy; its p10-p90 spread is reported beside it."""
    clip = classifier.clip
    one = torch.randn(1, 3, clip.image_size, clip.image_size)
    loop = asyncio.get_running_loop()

    def model_alone() -> float:
        started = time.perf_counter()
        clip.encode_images(one)
        _sync(clip.device)
        return (time.perf_counter() - started) * 1000

    await worker.classify(photo, DEFAULT_LABELS)  # warm-up, and the labels' text encoding
    model, single, bot, worker_minus_model, bot_minus_worker = [], [], [], [], []
    for _ in range(runs):
        model_ms = await loop.run_in_executor(classifier.executor, model_alone)
        single_ms = await timed_ms(lambda: worker.classify(photo, DEFAULT_LABELS))
        model.append(model_ms)
        single.append(single_ms)
        worker_minus_model.append(single_ms - model_ms)
        if round_trip is not None:
            bot_ms = await timed_ms(round_trip)
            bot.append(bot_ms)
            bot_minus_worker.append(bot_ms - single_ms)
    single_spread, overhead = spread(single), spread(worker_minus_model)
    results = {"model_single_ms": statistics.median(model), "single_p50_ms": single_spread["p50"],
               "single_p99_ms": single_spread["p99"], "single_overhead_ms": max(0.0, overhead["p50"]),
               "single_overhead_p10_ms": overhead["p10"], "single_overhead_p90_ms": overhead["p90"]}
    if bot:
        bot_overhead = spread(bot_minus_worker)
        results |= {"bot_e2e_p50_ms": statistics.median(bot), "bot_overhead_ms": max(0.0, bot_overhead["p50"]),
                    "bot_overhead_p10_ms": bot_overhead["p10"], "bot_overhead_p90_ms": bot_overhead["p90"]}
    return results


async def label_change_stall(settings: ClassifierSettings, classifier: ZeroShotClassifier,
                             runs: int = 5) -> dict[str, float]:
    """The extra latency of a picture sent while another caller's 50 new labels are being
    encoded, paired against the same picture alone just before (median of pairs, p10-p90)."""
    worker = create_worker(settings, classifier)
    worker.start()
    photo = test_jpeg(PHOTO_SIZE)
    stalls, alone_ms = [], []
    try:
        await worker.classify(photo, DEFAULT_LABELS)  # warm-up
        for _ in range(runs):
            alone = await timed_ms(lambda: worker.classify(photo, DEFAULT_LABELS))
            fresh = [f"animal {uuid.uuid4().hex[:8]}" for _ in range(50)]
            other = asyncio.ensure_future(worker.classify(photo, fresh))
            await asyncio.sleep(0.02)  # the other caller's labels are being encoded now
            during = await timed_ms(lambda: worker.classify(photo, DEFAULT_LABELS))
            await other
            stalls.append(during - alone)
            alone_ms.append(alone)
    finally:
        await worker.stop()
    stall = spread(stalls)
    return {"label_change_stall_ms": max(0.0, stall["p50"]), "label_change_stall_p10_ms": stall["p10"],
            "label_change_stall_p90_ms": stall["p90"], "label_change_alone_ms": statistics.median(alone_ms)}


def text_measurements(classifier: ZeroShotClassifier) -> dict[str, float]:
    """The first new 10-label set after start (text_encode_first_ms), a second one (text_encode_ms),
    the second again from the cache; the warm-up the model did at start is reported beside them."""
    def encode_new() -> tuple[list[str], float]:
        fresh = [f"animal {uuid.uuid4().hex[:8]}" for _ in range(10)]
        started = time.perf_counter()
        classifier.label_embeddings(fresh)
        return fresh, (time.perf_counter() - started) * 1000

    _, first_ms = encode_new()
    fresh, encode_ms = encode_new()
    cached_ms = _median_ms(lambda: classifier.label_embeddings(fresh), 50)
    return {"text_encode_first_ms": first_ms, "text_encode_ms": encode_ms, "text_cached_ms": cached_ms,
            "warmup_ms": classifier.warmup_ms}


def open_set_measurements(classifier: ZeroShotClassifier) -> dict[str, float]:
    """What "none of these" answers cost: encoding the negative labels once (negatives_encode_ms, what a
    first start pays; they stay in the text cache, open_set_negatives entries), and per picture the
    extra matrix product: the median of scoring one picture against the default labels with and
    without it, in pairs (open_set_ms, never below zero). Model thread only."""
    started = time.perf_counter()
    classifier.prepare_negatives()
    encode_ms = (time.perf_counter() - started) * 1000
    features = classifier.encode_pictures([np.zeros((classifier.image_size,) * 2 + (3,), dtype=np.uint8)])
    classifier.label_embeddings(DEFAULT_LABELS)
    classifier.score_cached(features, DEFAULT_LABELS, True)  # chooses the competing negatives once
    differences = []
    for _ in range(200):
        closed = _median_ms(lambda: classifier.score_cached(features, DEFAULT_LABELS, False), 1)
        opened = _median_ms(lambda: classifier.score_cached(features, DEFAULT_LABELS, True), 1)
        differences.append(opened - closed)
    return {"open_set_ms": max(0.0, statistics.median(differences)),
            "open_set_negatives": len(classifier.negatives), "negatives_encode_ms": encode_ms}


def decode_measurements(settings: ClassifierSettings, classifier: ZeroShotClassifier) -> dict[str, float]:
    """A 1280×960 JPEG to the model-ready picture (decode, orient, resize, crop): decoded whole,
    then in draft mode. The JPEG decode alone is reported too (jpeg_*_ms)."""
    data = test_jpeg(DECODE_SIZE)
    limits = image_limits(settings)
    target = classifier.image_size
    full = _median_ms(lambda: classifier.prepare(decode_image(data, limits)), 15)
    draft = _median_ms(lambda: classifier.prepare(decode_image(data, limits, target)), 15)
    return {"decode_full_ms": full, "decode_draft_ms": draft, "decode_speedup": full / draft,
            "jpeg_full_ms": _median_ms(lambda: decode_image(data, limits), 15),
            "jpeg_draft_ms": _median_ms(lambda: decode_image(data, limits, target), 15)}


def collect(settings: ClassifierSettings, seconds: float, paired: bool = True) -> dict[str, Any]:
    """Every classifier measurement, in one process, on one model, which is closed at the end.

    paired=False leaves out the paired model/worker latencies, for a caller that measures them
    itself beside its own round trip (the bot's bench).
    """
    classifier = create_classifier(settings)
    clip = classifier.clip
    results: dict[str, Any] = {
        "device": str(clip.device),
        "device_name": torch.cuda.get_device_name(clip.device) if clip.device.type == "cuda" else platform.processor()
        or platform.machine(),
        "dtype": str(clip.dtype).removeprefix("torch."),
        "model": settings.model,
        "pretrained": settings.pretrained or "random",
        "torch_threads": torch.get_num_threads(),
        "batch_max_size": settings.batch_max_size,
        "batch_max_wait_ms": settings.batch_max_wait_ms,
        "decode_threads": settings.decode_threads,
    }
    try:
        results |= decode_measurements(settings, classifier)
        on_model_thread = classifier.executor.submit  # where the worker runs torch, so the numbers compare
        results |= on_model_thread(text_measurements, classifier).result()
        results |= on_model_thread(open_set_measurements, classifier).result()
        results["raw_img_per_s"] = on_model_thread(raw_throughput, classifier, settings.batch_max_size,
                                                   seconds).result()
        results["worker_img_per_s"] = asyncio.run(worker_throughput(settings, classifier, seconds))
        results["worker_vs_raw"] = results["worker_img_per_s"] / results["raw_img_per_s"]
        results |= asyncio.run(label_change_stall(settings, classifier))
        results |= asyncio.run(explain_measurements(settings, classifier, results["raw_img_per_s"]))
        if paired:
            results |= asyncio.run(_paired(settings, classifier))
    finally:
        classifier.close()
    return results


async def explain_measurements(settings: ClassifierSettings, classifier: ZeroShotClassifier,
                               raw_img_per_s: float) -> dict[str, float]:
    """A map of where the model looked, for a 320×240 JPEG, one at a time: the model thread's time
    for it (explain_ms), the whole call with decoding and drawing the overlay (explain_e2e_ms), and
    the model thread's time as a share of one full image batch's (explain_batch_share)."""
    worker = create_worker(settings, classifier)
    worker.start()
    photo = test_jpeg(PHOTO_SIZE, seed=3)
    try:
        await worker.explain(photo, DEFAULT_LABELS, DEFAULT_LABELS[0])  # warm-up, and the labels' encoding
        on_thread, whole = [], []
        for _ in range(EXPLAIN_RUNS):
            whole.append(await timed_ms(lambda: worker.explain(photo, DEFAULT_LABELS, DEFAULT_LABELS[0])))
            on_thread.append(worker.maps.last_seconds * 1000)
    finally:
        await worker.stop()
    explain_ms = statistics.median(on_thread)
    batch_ms = settings.batch_max_size / raw_img_per_s * 1000
    return {"explain_ms": explain_ms, "explain_e2e_ms": statistics.median(whole),
            "explain_batch_share": explain_ms / batch_ms}


async def _paired(settings: ClassifierSettings, classifier: ZeroShotClassifier) -> dict[str, float]:
    worker = create_worker(settings, classifier)
    worker.start()
    try:
        return await paired_latency(classifier, worker, test_jpeg(PHOTO_SIZE), SINGLE_RUNS)
    finally:
        await worker.stop()


def print_results(results: dict[str, Any], as_json: bool) -> None:
    """One JSON object on one line, or an aligned table of key and value."""
    if as_json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}))
    else:
        width = max(map(len, results))
        for key, value in results.items():
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")


def run_bench(settings: ClassifierSettings, seconds: float, as_json: bool) -> int:
    print_results(collect(settings, seconds), as_json)
    return 0
