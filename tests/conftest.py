"""Shared fixtures: the tiny trained CLIP, settings that use it, and a classifier."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

# Never touch the network or a user's Hugging Face cache: an empty cache, offline.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="toonclip-hf-")

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import pytest
from telegram.ext import Application

from bot.app import build_application, started
from bot.conversation.services import SERVICES_KEY
from bot.settings import BotSettings
from classifier import ClassifierSettings, ZeroShotClassifier, create_classifier
from tests import tiny_clip
from tests.fake_telegram import FakeTelegram

TINY_DIR = Path(__file__).resolve().parent.parent / ".cache" / "tiny-clip"
TINY_ML_DIR = Path(__file__).resolve().parent.parent / ".cache" / "tiny-multilingual"
# The tiny model's precision: CLIP_PRECISION=fp32 rehearses a CPU without bf16 hardware (.ci/run).
TEST_PRECISION = os.environ.get("CLIP_PRECISION", "auto")
# Seconds the dev machine (2 Xeon cores with AMX) takes for patience()'s workload.
REFERENCE_SECONDS = 0.16
REPORT_FILE = Path(__file__).resolve().parent.parent / ".cache" / "load-report.txt"


def pytest_sessionstart(session: pytest.Session) -> None:
    REPORT_FILE.unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the load test's numbers (time, memory) at the end of the run."""
    if REPORT_FILE.exists():
        terminalreporter.write_line(REPORT_FILE.read_text().strip())


@pytest.fixture(scope="session")
def tiny_model() -> tuple[Path, Path]:
    """(config JSON, checkpoint) of the tiny CLIP, built once and reused between runs."""
    return tiny_clip.build(TINY_DIR)


@pytest.fixture(scope="session")
def tiny_multilingual_model() -> tuple[Path, Path]:
    """(config JSON, checkpoint) of the tiny multilingual CLIP (Russian words, a Hugging Face tokenizer)."""
    from tests import tiny_multilingual

    return tiny_multilingual.build(TINY_ML_DIR)


@pytest.fixture
def ml_settings(tiny_multilingual_model: tuple[Path, Path], tmp_path: Path) -> ClassifierSettings:
    config, checkpoint = tiny_multilingual_model
    return ClassifierSettings(model=str(config), pretrained=str(checkpoint), device="cpu",
                              precision=TEST_PRECISION, cache_dir=tmp_path / "ml-cache",
                              default_labels=tuple(tiny_multilingual_words()))


def tiny_multilingual_words() -> list[str]:
    from tests import tiny_multilingual

    return tiny_multilingual.WORDS


@pytest.fixture(scope="session")
def samples_dir(tiny_model: tuple[Path, Path]) -> Path:
    return TINY_DIR / "samples"


@pytest.fixture
def settings(tiny_model: tuple[Path, Path], tmp_path: Path) -> ClassifierSettings:
    config, checkpoint = tiny_model
    return ClassifierSettings(model=str(config), pretrained=str(checkpoint), device="cpu",
                              precision=TEST_PRECISION, cache_dir=tmp_path / "cache")


@pytest.fixture
def classifier(settings: ClassifierSettings) -> ZeroShotClassifier:
    return create_classifier(settings)


@pytest.fixture(scope="session")
def patience(tiny_model: tuple[Path, Path], samples_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How many times longer than on the dev machine a test may wait here: three times this
    machine's measured slowness, at least 3. Waits that scale with work multiply by it."""
    from PIL import Image

    config, checkpoint = tiny_model
    classifier = create_classifier(ClassifierSettings(model=str(config), pretrained=str(checkpoint), device="cpu",
                                                      precision=TEST_PRECISION,
                                                      cache_dir=tmp_path_factory.mktemp("patience")))
    images = [Image.open(path).convert("RGB") for path in sorted(samples_dir.glob("*/0*.png"))[:32]]
    run = classifier.executor.submit  # on the model's thread, as the worker runs it
    try:
        run(classifier.classify_images, images[:4], ["cat", "dog"]).result()  # warm-up
        started = time.perf_counter()
        for _ in range(25):
            run(classifier.classify_images, images, ["cat", "dog"]).result()
        seconds = time.perf_counter() - started
    finally:
        classifier.executor.shutdown()
    print(f"patience: the tiny model took {seconds:.2f} s for the reference workload")
    return 3 * max(1.0, seconds / REFERENCE_SECONDS)


def sample(samples_dir: Path, label: str, index: int = 0) -> bytes:
    """The bytes of one held-out sample picture."""
    return (samples_dir / label / f"{index:02d}.png").read_bytes()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def bot_settings(settings: ClassifierSettings, fake: FakeTelegram, tmp_path: Path) -> BotSettings:
    return BotSettings(token=fake.token, classifier=settings, base_url=fake.base_url,
                       base_file_url=fake.base_file_url, database_path=tmp_path / "bot.sqlite3",
                       poll_timeout_seconds=1, game_round_seconds=30)


def running_bot(settings: BotSettings) -> AbstractAsyncContextManager[Application]:  # type: ignore[type-arg]
    """The real application, started and stopped as run_polling does it."""
    return started(build_application(settings))


@pytest.fixture
async def bot(bot_settings: BotSettings) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    async with running_bot(bot_settings) as application:
        yield application


async def idle(fake: FakeTelegram, application: Application) -> None:  # type: ignore[type-arg]
    """Wait until the bot has nothing left to do, so that a test may check that nothing else arrived.

    Idle means: every update pushed to the fake has been taken (the bot polled again past it), none
    waits in the update queue or is being handled (handlers send their answers before they return),
    and the worker holds no picture and no label still to encode. Game timers (vote counts, a round's
    end) are not covered: they run on their own schedule.
    """
    last = fake.last_update_id
    await fake.wait_for(lambda: fake.confirmed(last))
    worker = application.bot_data[SERVICES_KEY].worker

    def quiet() -> bool:
        # The worker shows no public count of labels waiting to be encoded; _encoding is that count.
        return (application.update_queue.empty() and application.update_processor.current_concurrent_updates == 0
                and worker.load == 0 and worker.labels_encoding == 0)

    await fake.wait_for(quiet)
    await asyncio.wait_for(application.update_queue.join(), 60)  # task_done comes after the handler returns
    await fake.wait_for(quiet)
