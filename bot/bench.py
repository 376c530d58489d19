"""python -m bot bench: the classifier's measurements, then photos through the real Application.

Keys: every key of `python -m classifier bench` (classifier/bench.py), plus bot_e2e_p50_ms,
bot_overhead_ms (with its p10/p90), measured in triples with the model and the worker alone,
loop_lag_p99_ms, repeat_hit_ms (a picture the bot has seen before) and the sticker-traffic run
(sticker_pictures_per_s, sticker_hit_ratio, sticker_vs_worker: 10,000 requests drawn from 2,000
pictures with Zipf popularity), and rss_idle_mb and rss_peak_mb (measured in a fresh bot
process). Telegram is played in process by a python-telegram-bot transport
(a BaseRequest), so the benchmark needs no network and nothing from the test suite; the HTTP round
trip to Telegram is not part of the figures.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import save_file
from telegram.request import BaseRequest, RequestData

from bot.app import build_application, started
from bot.conversation.services import SERVICES_KEY, Services
from bot.settings import BotSettings
from bot.telemetry.looplag import LoopLag
from bot.transport.delivery import ChatDelivery
from classifier import bench as classifier_bench
from classifier.bench import PHOTO_SIZE, SINGLE_RUNS, paired_latency, test_jpeg
from classifier.model.clip import build_model
from classifier.model.memory import peak_rss_mb, rss_mb
from classifier.model.spec import resolve_spec
from classifier.settings import ClassifierSettings

TOKEN = "1:bench"
# The sticker-traffic run (README, Performance): requests drawn from distinct pictures whose
# popularity follows Zipf's law with this exponent, as stickers from packs are sent again and again.
STICKER_REQUESTS, STICKER_PICTURES, STICKER_ZIPF = 10_000, 2_000, 1.1
FULL_SECONDS = 3.0  # a shorter --seconds scales the sticker-traffic run down in proportion (tests)
HIT_RUNS = 40
BOT_USER = {"id": 1, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
MEMORY_BURST = 256  # photos at once for rss_peak_mb


# The bench's chats send far more than a person does: no per-sender or per-chat limit applies to them.
UNLIMITED: dict[str, Any] = {"rate_limit_per_minute": 0, "updates_per_minute_per_user": 0,
                             "updates_per_minute_per_chat": 0}

class LoopbackTelegram(BaseRequest):
    """Just enough of the Bot API for photos in private chats, answered in process."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.downloads = 0
        self.answered: dict[int, asyncio.Event] = {}  # message id of a photo -> its answer was sent
        self._updates: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        return 10.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def push_photo(self, chat_id: int, data: bytes) -> asyncio.Event:
        """Offer a photo update (a picture never seen before) to getUpdates; the event is set when
        its answer is sent."""
        number = next(self._ids)
        file_id = f"f{number}"
        self.files[file_id] = data
        size = {"file_id": file_id, "file_unique_id": file_id, "width": PHOTO_SIZE[0], "height": PHOTO_SIZE[1],
                "file_size": len(data)}
        return self._push(number, chat_id, photo=[size])

    def push_sticker(self, chat_id: int, data: bytes, unique_id: str) -> asyncio.Event:
        """Offer a sticker update; unique_id is the file's file_unique_id (the same for every copy)."""
        number = next(self._ids)
        file_id = f"s{number}"
        self.files[file_id] = data
        return self._push(number, chat_id, sticker={
            "file_id": file_id, "file_unique_id": unique_id, "type": "regular", "width": PHOTO_SIZE[0],
            "height": PHOTO_SIZE[1], "is_animated": False, "is_video": False, "file_size": len(data)})

    def _push(self, number: int, chat_id: int, **content: Any) -> asyncio.Event:
        person = {"id": chat_id, "is_bot": False, "first_name": "B"}
        self._updates.append({"update_id": number, "message": {
            "message_id": number, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
            "from": person, **content}})
        self.answered[number] = asyncio.Event()
        self._arrived.set()
        return self.answered[number]

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        if "/file/" in url:
            self.downloads += 1
            return 200, self.files[url.rsplit("/", 1)[1]]
        name = url.rsplit("/", 1)[1]
        params = request_data.parameters if request_data is not None else {}
        return 200, json.dumps({"ok": True, "result": await self._answer(name, params)}).encode()

    async def _answer(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT_USER
        if name == "getUpdates":
            offset = int(params.get("offset") or 0)
            self._updates = [u for u in self._updates if u["update_id"] >= offset]  # confirmed ones go
            if not self._updates:
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), 0.5)
                except TimeoutError:
                    return []
            return self._updates[:100]
        if name == "getFile":
            file_id = str(params["file_id"])
            return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]),
                    "file_path": f"photos/{file_id}"}
        if name == "sendMessage":
            quoted = params.get("reply_parameters")
            quoted = json.loads(quoted) if isinstance(quoted, str) else quoted
            if quoted:
                self.answered.pop(int(quoted["message_id"]), asyncio.Event()).set()
            return {"message_id": next(self._ids), "date": int(time.time()), "from": BOT_USER,
                    "chat": {"id": int(params["chat_id"]), "type": "private"}, "text": params.get("text", "")}
        return True  # setMyCommands, deleteWebhook and the like


def zipf_draws(requests: int, pictures: int, exponent: float = STICKER_ZIPF, seed: int = 0) -> list[int]:
    """requests picture numbers in [0, pictures), number k drawn with probability ∝ (k + 1) ** -exponent."""
    weights = np.arange(1, pictures + 1, dtype=np.float64) ** -exponent
    draws = np.random.default_rng(seed).choice(pictures, size=requests, p=weights / weights.sum())
    return [int(d) for d in draws]


async def repeat_hit_ms(transport: LoopbackTelegram) -> float:
    """Median round trip of a sticker the bot has seen before: no download, decoding or encoding."""
    picture = test_jpeg(PHOTO_SIZE, seed=99)
    await transport.push_sticker(2, picture, "repeat").wait()  # the first time: downloaded and encoded
    times = []
    for _ in range(HIT_RUNS):
        started = time.perf_counter()
        await transport.push_sticker(2, picture, "repeat").wait()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def sticker_traffic(transport: LoopbackTelegram, svc: Services, scale: float) -> dict[str, float]:
    """STICKER_REQUESTS (times scale) stickers drawn from STICKER_PICTURES (times scale) with Zipf
    popularity, sent by 3 × BATCH_MAX_SIZE chats, each sending its next one when answered."""
    requests, pictures = max(1, round(STICKER_REQUESTS * scale)), max(1, round(STICKER_PICTURES * scale))
    draws = zipf_draws(requests, pictures)
    files = {n: test_jpeg(PHOTO_SIZE, seed=10_000 + n) for n in set(draws)}  # made before the clock starts
    queue: Iterator[int] = iter(draws)
    encoded, downloads = svc.worker.stats.images, transport.downloads

    async def chat(chat_id: int) -> None:
        for n in queue:  # shared: each chat takes the next request
            await transport.push_sticker(chat_id, files[n], f"zipf-{n}").wait()

    started = time.perf_counter()
    await asyncio.gather(*(chat(1000 + i) for i in range(3 * svc.worker.max_batch)))
    seconds = time.perf_counter() - started
    return {"sticker_pictures_per_s": requests / seconds,
            "sticker_hit_ratio": 1 - (svc.worker.stats.images - encoded) / requests,
            "sticker_requests": requests, "sticker_distinct": len(files),
            "sticker_downloads": transport.downloads - downloads}


async def bot_measurements(classifier_settings: ClassifierSettings, burst: int, scale: float) -> dict[str, float]:
    """Paired latencies (model, worker, bot round trip), the event loop's lag under a burst, a cached
    picture's round trip and the sticker-traffic run.

    The pairs run one request at a time; the burst sends `burst` photos from 16 chats at once
    and records how late the bot's event loop wakes up meanwhile (loop_lag_p99_ms).
    """
    transport = LoopbackTelegram()
    with tempfile.TemporaryDirectory() as folder:
        settings = BotSettings(token=TOKEN, classifier=replace(classifier_settings),
                               database_path=Path(folder) / "bench.sqlite3", poll_timeout_seconds=1, **UNLIMITED)
        photo = test_jpeg(PHOTO_SIZE)
        async with started(build_application(settings, transport=transport)) as application:
            svc: Services = application.bot_data[SERVICES_KEY]

            async def round_trip() -> None:
                await transport.push_photo(1, photo).wait()

            await round_trip()  # warm-up
            results = await paired_latency(svc.classifier, svc.worker, photo, SINGLE_RUNS, round_trip)
            async with LoopLag() as lag:
                answers = [transport.push_photo(100 + i % 16, photo).wait() for i in range(burst)]
                await asyncio.gather(*answers)
            delivery = application.bot.rate_limiter
            assert isinstance(delivery, ChatDelivery)
            # Without the flood pacing (30 messages a second for a whole bot): Telegram's limit on an
            # account would cap any traffic faster than that, cached or not.
            async with delivery.unpaced():
                results["repeat_hit_ms"] = await repeat_hit_ms(transport)
                results |= await sticker_traffic(transport, svc, scale)
    results["loop_lag_p99_ms"] = lag.percentile_ms(99)
    results["loop_lag_burst"] = burst
    return results | await asyncio.to_thread(memory_use, classifier_settings)


def collect(settings: ClassifierSettings, seconds: float) -> dict[str, Any]:
    """The classifier's keys, then the bot's, each on a model of its own (one at a time)."""
    results = classifier_bench.collect(settings, seconds, paired=False)
    results |= asyncio.run(bot_measurements(settings, 4 * settings.batch_max_size, min(1.0, seconds / FULL_SECONDS)))
    results["sticker_vs_worker"] = results["sticker_pictures_per_s"] / results["worker_img_per_s"]
    return results


def run_bench(settings: ClassifierSettings, seconds: float, as_json: bool) -> int:
    classifier_bench.print_results(collect(settings, seconds), as_json)
    return 0


def memory_use(classifier_settings: ClassifierSettings, burst: int = MEMORY_BURST) -> dict[str, float]:
    """rss_idle_mb (the bot once started) and rss_peak_mb (start-up and a burst of photos included),
    measured in a fresh process that loads its weights from a checkpoint as the bot does (random
    weights are saved to one first)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = classifier_settings
        if not settings.pretrained:
            checkpoint = Path(folder) / "random.safetensors"
            weights = build_model(resolve_spec(settings.model, "")).state_dict()
            save_file({key: tensor.contiguous() for key, tensor in weights.items()}, checkpoint)
            del weights
            settings = replace(settings, pretrained=str(checkpoint))
        run = subprocess.run([sys.executable, "-m", "bot.bench"], input=pickle.dumps((settings, burst)),
                             capture_output=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"The memory measurement failed: {run.stderr.decode(errors='replace')[-2000:]}")
    measured: dict[str, float] = json.loads(run.stdout.decode().splitlines()[-1])
    return measured


def _memory_in_this_process(classifier_settings: ClassifierSettings, burst: int) -> dict[str, float]:
    async def measure() -> dict[str, float]:
        transport = LoopbackTelegram()
        with tempfile.TemporaryDirectory() as folder:
            settings = BotSettings(token=TOKEN, classifier=classifier_settings, **UNLIMITED,
                                   database_path=Path(folder) / "bench.sqlite3", poll_timeout_seconds=1)
            async with started(build_application(settings, transport=transport)):
                idle = rss_mb()
                photo = test_jpeg(PHOTO_SIZE)
                await asyncio.gather(*(transport.push_photo(100 + i % 16, photo).wait() for i in range(burst)))
        return {"rss_idle_mb": idle, "rss_peak_mb": peak_rss_mb()}

    return asyncio.run(measure())


if __name__ == "__main__":  # memory_use's fresh process: pickled (settings, burst) in, one JSON line out
    print(json.dumps(_memory_in_this_process(*pickle.loads(sys.stdin.buffer.read()))))
