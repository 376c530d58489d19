"""python -m classifier bench: the whole path measured side by side, in one run.

Keys (see README, Performance): raw_img_per_s, worker_img_per_s, worker_vs_raw, single_p50_ms,
single_p99_ms, single_overhead_ms, text_encode_ms, text_cached_ms, decode_full_ms, decode_draft_ms,
decode_speedup, bot_e2e_p50_ms, bot_overhead_ms; plus the device, model and batch settings.
"""

from __future__ import annotations

import asyncio
import importlib
import io
import json
import logging
import platform
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from classifier.factory import create_classifier, create_worker, image_limits
from classifier.images import decode_image
from classifier.settings import ClassifierSettings
from classifier.zeroshot import ZeroShotClassifier

logger = logging.getLogger(__name__)

# What the bot downloads for a 256-pixel model: Telegram's 320-pixel photo size.
PHOTO_SIZE = (320, 240)
DECODE_SIZE = (1280, 960)
SINGLE_RUNS = 40


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
    """Images per second through the image encoder alone, on preprocessed batches."""
    clip = classifier.clip
    batch = torch.randn(batch_size, 3, clip.image_size, clip.image_size)
    clip.encode_images(batch)  # warm-up
    _sync(clip.device)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        clip.encode_images(batch)
        done += batch_size
    _sync(clip.device)
    return done / (time.perf_counter() - started)


async def worker_measurements(settings: ClassifierSettings, classifier: ZeroShotClassifier,
                              seconds: float) -> dict[str, float]:
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
        throughput = done / (time.perf_counter() - started)
        single = []
        for i in range(SINGLE_RUNS):
            t0 = time.perf_counter()
            await worker.classify(photos[i % len(photos)], labels)
            single.append((time.perf_counter() - t0) * 1000)
    finally:
        await worker.stop()
    single.sort()
    return {"worker_img_per_s": throughput, "single_p50_ms": statistics.median(single),
            "single_p99_ms": single[min(len(single) - 1, round(0.99 * (len(single) - 1)))]}


def model_single_ms(classifier: ZeroShotClassifier) -> float:
    clip = classifier.clip
    one = torch.randn(1, 3, clip.image_size, clip.image_size)
    clip.encode_images(one)
    def run() -> None:
        clip.encode_images(one)
        _sync(clip.device)

    return _median_ms(run, 20)


def text_measurements(classifier: ZeroShotClassifier) -> dict[str, float]:
    fresh = [f"animal {uuid.uuid4().hex[:8]}" for _ in range(10)]
    started = time.perf_counter()
    classifier.label_embeddings(fresh)
    encode_ms = (time.perf_counter() - started) * 1000
    cached_ms = _median_ms(lambda: classifier.label_embeddings(fresh), 50)
    return {"text_encode_ms": encode_ms, "text_cached_ms": cached_ms}


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


def collect(settings: ClassifierSettings, seconds: float) -> dict[str, Any]:
    """Every measurement, in one process, on one model."""
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
    results |= decode_measurements(settings, classifier)
    on_model_thread = classifier.executor.submit  # where the worker runs torch, so the numbers compare
    results |= on_model_thread(text_measurements, classifier).result()
    results["raw_img_per_s"] = on_model_thread(raw_throughput, classifier, settings.batch_max_size, seconds).result()
    results |= asyncio.run(worker_measurements(settings, classifier, seconds))
    results["worker_vs_raw"] = results["worker_img_per_s"] / results["raw_img_per_s"]
    results["model_single_ms"] = on_model_thread(model_single_ms, classifier).result()
    results["single_overhead_ms"] = results["single_p50_ms"] - results["model_single_ms"]
    classifier.close()  # the bot loads its own model, on a thread of its own
    bot_e2e = _bot_measurement()
    if bot_e2e is not None:
        results["bot_e2e_p50_ms"] = asyncio.run(bot_e2e(settings))
        results["bot_overhead_ms"] = results["bot_e2e_p50_ms"] - results["single_p50_ms"]
    return results


def _bot_measurement() -> Callable[[ClassifierSettings], Coroutine[Any, Any, float]] | None:
    """The bot's end-to-end measurement, when the bot and its test server are installed.

    Imported by name so the classifier itself never depends on Telegram.
    """
    try:
        module = importlib.import_module("bot.bench")
    except ImportError as exc:
        logger.warning("Skipping the bot measurement: %s", exc)
        return None
    return module.bot_e2e_p50_ms


def run_bench(settings: ClassifierSettings, seconds: float, as_json: bool) -> int:
    results = collect(settings, seconds)
    if as_json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}))
    else:
        width = max(map(len, results))
        for key, value in results.items():
            shown = f"{value:.2f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    return 0
