"""The operator's view of a running bot: /metrics and /healthz over HTTP, and /stats in Telegram."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from telegram.error import TimedOut
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bot.ops.runtime import OPS_KEY, Running
from bot.settings import BotSettings
from bot.telemetry.metrics import Metrics
from bot.transport.requests import ObservedRequest
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, private_chat, user

ANN, BOB = 4201, 4202
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def port_of(application: Application) -> int:  # type: ignore[type-arg]
    running: Running = application.bot_data[OPS_KEY]
    assert running.server is not None
    return running.server.port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def scrape(port: int) -> Samples:
    """Every sample of /metrics: (name, labels) -> value."""
    status, text = await asyncio.to_thread(get, port, "/metrics")
    assert status == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape_until(port: int, condition: Callable[[Samples], bool], seconds: float) -> Samples:
    """Scrape until condition holds (a counter moves just after the event a test waits for)."""
    deadline = time.monotonic() + seconds
    while not condition(samples := await scrape(port)):
        assert time.monotonic() < deadline, "the metrics did not get there in time"
        await asyncio.sleep(0.05)
    return samples


async def photo(fake: FakeTelegram, samples_dir: Path, who: int, label: str = "fox") -> None:
    await fake.push(chat=private_chat(who), **{"from": user(who)},
                    photo=fake.photo([(64, 64, sample(samples_dir, label))]))


async def test_counters_and_histograms_move_by_the_pictures_sent(bot_settings: BotSettings, fake: FakeTelegram,
                                                                 samples_dir: Path, patience: float) -> None:
    pictures = 3
    settings = replace(bot_settings, metrics_port=0, rate_limit_per_minute=0)
    async with running_bot(settings) as application:
        port = port_of(application)
        before = await scrape(port)
        for label in ("fox", "cat", "dog")[:pictures]:
            await photo(fake, samples_dir, ANN, label)
        await fake.wait_for(lambda: len(fake.sent(ANN)) == pictures)
        after = await scrape_until(port, lambda s: value(s, "toonclip_answers_total", outcome="prediction")
                                   >= pictures, 10 * patience)
        assert (await asyncio.to_thread(get, port, "/nothing"))[0] == 404

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("toonclip_answers_total", outcome="prediction") == pictures
    for outcome in ("refused", "busy", "rate_limited", "error"):
        assert moved("toonclip_answers_total", outcome=outcome) == 0
    assert moved("toonclip_updates_total", kind="message") == pictures
    for stage in ("download", "decode", "queue_wait", "model", "send"):
        assert moved("toonclip_stage_seconds_count", stage=stage) == pictures, stage
        assert moved("toonclip_stage_seconds_sum", stage=stage) > 0, stage
    assert moved("toonclip_answer_seconds_count") == pictures
    # End to end spans every stage, one after another, from the update's arrival.
    stages = sum(moved("toonclip_stage_seconds_sum", stage=stage)
                 for stage in ("download", "decode", "queue_wait", "model", "send"))
    assert moved("toonclip_answer_seconds_sum") >= stages
    assert moved("toonclip_answer_seconds_bucket", le="+Inf") == pictures
    assert moved("toonclip_batch_size_sum") == pictures  # every picture in exactly one batch
    labels = len(settings.classifier.default_labels)
    assert moved("toonclip_label_cache_hits_total") == pictures * labels  # encoded at start
    assert moved("toonclip_label_cache_misses_total") == 0
    assert moved("toonclip_image_cache_misses_total") == pictures  # three pictures never seen before
    assert moved("toonclip_image_cache_hits_total") == 0
    assert value(after, "toonclip_queue_depth") == 0
    assert value(after, "toonclip_queue_capacity") == settings.classifier.queue_size
    assert value(after, "toonclip_pictures_in_flight") == 0
    assert value(after, "toonclip_last_poll_timestamp_seconds") > time.time() - 60 * patience
    info = next(dict(key[1]) for key in after if key[0] == "toonclip_build_info")
    assert info["model"] == settings.classifier.model and info["device"] == "cpu" and info["version"]
    assert all(name.startswith("toonclip_") for name, _ in after)


async def test_telegram_errors_are_counted_by_method_and_kind(bot_settings: BotSettings, fake: FakeTelegram,
                                                             samples_dir: Path, patience: float) -> None:
    settings = replace(bot_settings, metrics_port=0, rate_limit_per_minute=0)
    fake.failures["sendMessage"] = [(429, "Too Many Requests: retry after 1", 1),  # retried by the rate limiter
                                    (403, "Forbidden: bot was blocked by the user", None)]
    fake.failures["getFile"] = [(502, "Bad Gateway", None)]  # the download is tried again
    async with running_bot(settings) as application:
        port = port_of(application)
        await photo(fake, samples_dir, ANN)
        await fake.wait_for(lambda: len(fake.methods("sendMessage")) == 2)  # 429, then 403: no apology to it
        after = await scrape_until(port, lambda s: value(s, "toonclip_answers_total", outcome="error") >= 1,
                                   10 * patience)
    assert value(after, "toonclip_telegram_errors_total", method="sendMessage", kind="429") == 1
    assert value(after, "toonclip_telegram_errors_total", method="sendMessage", kind="forbidden") == 1
    assert value(after, "toonclip_telegram_errors_total", method="getFile", kind="other") == 1
    assert value(after, "toonclip_telegram_errors_total", method="sendMessage", kind="other") == 0
    assert value(after, "toonclip_answers_total", outcome="prediction") == 0  # its send was refused


async def test_refusals_are_counted_by_outcome(bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path,
                                              patience: float) -> None:
    settings = replace(bot_settings, metrics_port=0, rate_limit_per_minute=1)
    async with running_bot(settings) as application:
        port = port_of(application)
        document = {"file_id": fake.add_file(b"just text"), "file_unique_id": "d1", "file_name": "notes.txt",
                    "mime_type": "text/plain", "file_size": 9}
        await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, document=document)
        await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)  # "That file is not a picture; ..."
        await photo(fake, samples_dir, ANN)  # over the limit of one a minute
        await fake.wait_for(lambda: len(fake.sent(ANN)) == 2)
        after = await scrape_until(port, lambda s: value(s, "toonclip_answers_total", outcome="rate_limited") >= 1,
                                   10 * patience)
    assert value(after, "toonclip_answers_total", outcome="refused") == 1
    assert value(after, "toonclip_answers_total", outcome="rate_limited") == 1
    assert value(after, "toonclip_answers_total", outcome="prediction") == 0
    assert value(after, "toonclip_stage_seconds_count", stage="download") == 0  # neither was downloaded


class Unanswered(BaseRequest):
    """Telegram's side of a connection that times out (python-telegram-bot raises TimedOut for it)."""

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        raise TimedOut("Timed out")


async def test_a_timeout_is_counted_and_is_no_answered_poll() -> None:
    metrics = Metrics()
    request = ObservedRequest(Unanswered(), metrics)
    with pytest.raises(TimedOut):
        await request.post("https://api.telegram.org/bot1:secret/getUpdates")
    assert metrics.sample("toonclip_telegram_errors_total", {"method": "getUpdates", "kind": "timeout"}) == 1
    assert metrics.polled_at is None
    assert "secret" not in generate_latest(metrics.registry).decode()


async def test_health_fails_when_telegram_stops_answering_and_recovers(bot_settings: BotSettings,
                                                                       fake: FakeTelegram, patience: float) -> None:
    settings = replace(bot_settings, metrics_port=0, health_poll_age_seconds=bot_settings.poll_timeout_seconds + 1)
    async with running_bot(settings) as application:
        port = port_of(application)
        health: list[tuple[int, str]] = []

        async def probe() -> tuple[int, str]:
            health.append(await asyncio.to_thread(get, port, "/healthz"))
            return health[-1]

        async def wait_for_status(status: int) -> str:
            deadline = time.monotonic() + 20 * patience
            while (answer := await probe())[0] != status:
                assert time.monotonic() < deadline, f"/healthz stayed {answer}"
                await asyncio.sleep(0.1)
            return answer[1]

        assert "ok" in await wait_for_status(200)
        fake.unanswered.add("getUpdates")
        try:
            reason = await wait_for_status(503)
        finally:
            fake.unanswered.discard("getUpdates")
        assert "getUpdates" in reason and "HEALTH_POLL_AGE_SECONDS" in reason, health
        assert "last getUpdates answered" in await wait_for_status(200)


async def test_stats_answers_admins_only(bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    settings = replace(bot_settings, admin_user_ids=frozenset({ANN}))
    async with running_bot(settings) as application:
        assert application.bot_data[OPS_KEY].server is None  # no METRICS_PORT, no endpoint
        await photo(fake, samples_dir, BOB)
        await fake.wait_for(lambda: len(fake.sent(BOB)) == 1)
        # Bob is no admin: /stats is an unknown command for him (no answer); /help after it is answered.
        await fake.push(chat=private_chat(BOB), **{"from": user(BOB)}, text="/stats")
        await fake.push(chat=private_chat(BOB), **{"from": user(BOB)}, text="/help")
        await fake.wait_for(lambda: len(fake.sent(BOB)) == 2)
        await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, text="/stats")
        await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)
    assert "/classify" in fake.sent(BOB)[1]["text"]  # the help, not the statistics
    assert len(fake.sent(BOB)) == 2 and not any("Pictures answered" in m["text"] for m in fake.sent(BOB))
    text = fake.sent(ANN)[0]["text"]
    assert "Pictures answered: 1 in the last hour, 1 in the last day" in text
    assert "Latency of the latest answers (1): p50" in text
    assert f"Queue: 0 of {settings.classifier.queue_size}; pictures in flight: 0" in text
    assert "Label cache hits: 100%" in text
    assert "on cpu" in text and "Database:" in text
