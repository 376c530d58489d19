"""The image-embedding cache: through the bot against the fake Bot API (one download and one encode
for many callers, a hit after a restart, a miss after a change of model, eviction at the bound, no
cached failure), through the command line's path (duplicate files), and the cache on its own."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from telegram.ext import Application

from bot.conversation.services import SERVICES_KEY, Services
from bot.settings import BotSettings
from classifier import DEFAULT_LABELS, ClassifierSettings, ZeroShotClassifier, create_worker
from classifier.cli import Outcome, stream_outcomes
from classifier.pictures.cache import ImageEmbeddingCache, content_key
from classifier.progress import Progress
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user

ANN = 801
GROUP = -100801


def services_of(application: Application) -> Services:  # type: ignore[type-arg]
    return application.bot_data[SERVICES_KEY]  # type: ignore[no-any-return]


def sticker(fake: FakeTelegram, data: bytes | None, unique_id: str) -> dict[str, Any]:
    """A static sticker: a new file_id for each message (as Telegram gives), one file_unique_id for the file."""
    file_id = fake.add_file(data) if data is not None else f"gone-{unique_id}-{len(fake.files)}"
    return {"file_id": file_id, "file_unique_id": unique_id, "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False}


async def send_and_wait(fake: FakeTelegram, chat_id: int, **message: Any) -> str:
    """Send a message from chat_id's user in a private chat; the text of the answer it gets."""
    before = len(fake.sent(chat_id))
    await fake.push(chat=private_chat(chat_id), **{"from": user(chat_id)}, **message)
    await fake.wait_for(lambda: len(fake.sent(chat_id)) > before)
    return str(fake.sent(chat_id)[before]["text"])


async def test_many_callers_of_one_new_picture_cost_one_download_and_one_encode(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    photo = fake.photo([(64, 64, sample(samples_dir, "fox"))])  # the same file in every message
    fake.holds["getFile"] = release = threading.Event()  # the download waits until everyone has asked
    chats = range(7000, 7050)
    for chat_id in chats:  # half with the chat's labels, half with their own in the caption
        caption = {"caption": "fox, wolf, dog"} if chat_id % 2 else {}
        await fake.push(chat=private_chat(chat_id), **{"from": user(chat_id)}, photo=photo, **caption)
    stats = services_of(bot).worker.stats
    await fake.wait_for(lambda: stats.joined == 49)  # all 49 wait for the first caller's download
    release.set()
    await fake.wait_for(lambda: all(fake.sent(chat_id) for chat_id in chats))
    assert len(fake.methods("getFile")) == 1 and fake.downloads == [photo[0]["file_id"]]
    assert stats.images == 1 and stats.joined == 49
    plain = {fake.sent(c)[0]["text"] for c in chats if not c % 2}
    captioned = {fake.sent(c)[0]["text"] for c in chats if c % 2}
    assert len(plain) == 1 and plain.pop().startswith("<b>fox</b>")  # every caller the same answer
    assert len(captioned) == 1 and "wolf" in captioned.pop()


async def test_every_way_to_a_picture_uses_the_cache(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                     samples_dir: Path) -> None:
    """/game and /classify on one photo, an image document twice, an animated sticker's preview twice."""
    chat = group_chat(GROUP)
    photo = await fake.push(chat=chat, **{"from": user(ANN)}, photo=fake.photo([(64, 64, sample(samples_dir, "pig"))]))
    await fake.push(chat=chat, **{"from": user(ANN)}, text="/game", reply_to_message=photo)
    await fake.wait_for(lambda: len(fake.sent(GROUP)) == 1)
    await fake.push(chat=chat, **{"from": user(ANN)}, text="/reveal")  # in a game it is classified nowhere else
    await fake.wait_for(lambda: any("The AI saw" in str(c.params.get("text")) for c in fake.methods("editMessageText")))
    await fake.push(chat=chat, **{"from": user(ANN)}, text="/classify", reply_to_message=photo)
    await fake.wait_for(lambda: any(m["text"].startswith("<b>") for m in fake.sent(GROUP)[1:]))
    assert next(m for m in fake.sent(GROUP)[1:] if m["text"].startswith("<b>"))["text"].startswith("<b>pig</b>")
    png = sample(samples_dir, "duck")
    for _ in range(2):
        document = {"file_id": fake.add_file(png), "file_unique_id": "doc-duck", "file_name": "duck.png",
                    "mime_type": "image/png", "file_size": len(png)}
        assert (await send_and_wait(fake, ANN, document=document)).startswith("<b>duck</b>")
    for _ in range(2):
        animated = sticker(fake, None, "animated") | {"is_animated": True, "thumbnail": {
            "file_id": fake.add_file(sample(samples_dir, "lion")), "file_unique_id": "thumb-lion",
            "width": 64, "height": 64}}
        assert (await send_and_wait(fake, ANN, sticker=animated)).startswith("<b>lion</b>")
    # The photo, the document, the preview: once each for their answers; the photo once more for the
    # map of where the AI looked at the reveal (a map downloads its picture again: none is kept).
    assert len(fake.downloads) == 4 and fake.downloads.count(fake.downloads[0]) == 2
    assert services_of(bot).worker.stats.images == 3


async def test_a_picture_seen_before_a_restart_is_not_downloaded_again(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    async with running_bot(bot_settings):
        first = await send_and_wait(fake, ANN, sticker=sticker(fake, sample(samples_dir, "bear"), "bear-1"))
    assert first.startswith("<b>bear</b>")
    assert list(bot_settings.classifier.cache_dir.glob("image-embeddings-*.pt"))
    async with running_bot(bot_settings) as application:
        # The file is gone from Telegram: only the cache can answer this.
        again = await send_and_wait(fake, ANN, sticker=sticker(fake, None, "bear-1"))
        assert services_of(application).worker.stats.images == 0
    assert again == first
    assert len(fake.downloads) == 1


async def test_a_change_of_model_never_serves_an_old_embedding(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    bear = sample(samples_dir, "bear")
    for precision in ("fp32", "bf16"):  # the same weights in another precision make other embeddings
        settings = replace(bot_settings, classifier=replace(bot_settings.classifier, precision=precision))
        async with running_bot(settings) as application:
            answer = await send_and_wait(fake, ANN, sticker=sticker(fake, bear, "bear-2"))
            assert answer.startswith("<b>bear</b>")
            assert services_of(application).worker.stats.images == 1
    assert len(fake.downloads) == 2
    assert len(list(bot_settings.classifier.cache_dir.glob("image-embeddings-*.pt"))) == 2  # one per model


async def test_the_least_recently_used_picture_goes_at_the_bound(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    settings = replace(bot_settings, rate_limit_per_minute=0,
                       classifier=replace(bot_settings.classifier, image_cache_entries=2))
    animals = {"a": "cat", "b": "dog", "c": "mouse"}

    async def send(name: str) -> None:
        animal = animals[name]
        answer = await send_and_wait(fake, ANN, sticker=sticker(fake, sample(samples_dir, animal), name))
        assert answer.startswith(f"<b>{animal}</b>")

    async with running_bot(settings) as application:
        for name in ("a", "b", "a", "c", "a", "b"):  # a is used again before c comes, so b goes
            await send(name)
        assert len(services_of(application).classifier.images) == 2
    downloaded = [fake.files[file_id] for file_id in fake.downloads]
    assert downloaded == [sample(samples_dir, a) for a in ("cat", "dog", "mouse", "dog")]


async def test_a_failed_download_or_decode_is_not_cached(bot_settings: BotSettings, fake: FakeTelegram,
                                                         samples_dir: Path) -> None:
    async with running_bot(replace(bot_settings, rate_limit_per_minute=0)) as application:
        fake.failures["getFile"] = [(400, "Bad Request: file is temporarily unavailable", None)]
        failed = await send_and_wait(fake, ANN, sticker=sticker(fake, sample(samples_dir, "duck"), "duck-1"))
        assert "couldn't download" in failed
        assert (await send_and_wait(fake, ANN, sticker=sticker(fake, sample(samples_dir, "duck"), "duck-1"))
                ).startswith("<b>duck</b>")
        damaged = await send_and_wait(fake, ANN, sticker=sticker(fake, b"RIFF\x00\x00WEBPVP8 broken", "pig-1"))
        assert "damaged" in damaged or "can read" in damaged
        assert (await send_and_wait(fake, ANN, sticker=sticker(fake, sample(samples_dir, "pig"), "pig-1"))
                ).startswith("<b>pig</b>")
        assert services_of(application).worker.stats.images == 2
    assert len(fake.methods("getFile")) == 4


async def test_duplicate_files_on_the_command_line_are_encoded_once(
        settings: ClassifierSettings, classifier: ZeroShotClassifier, samples_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, animal in enumerate(["fox", "cat", "fox", "fox", "cat", "lion"]):
        (folder / f"{i}.png").write_bytes(sample(samples_dir, animal))
    worker = create_worker(settings, classifier)
    worker.start()
    outcomes: list[Outcome] = []
    try:
        inputs = ((path, True) for path in sorted(folder.iterdir()))
        await stream_outcomes(worker, inputs, DEFAULT_LABELS, outcomes.append, Progress(None))
    finally:
        await worker.stop()
    assert [o.prediction.label for o in outcomes if o.prediction] == ["fox", "cat", "fox", "fox", "cat", "lion"]
    assert worker.stats.images == 3  # fox, cat and lion, each once


async def test_a_caller_who_leaves_does_not_cancel_the_others_and_new_labels_take_the_chunked_path(
        settings: ClassifierSettings, classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    worker = create_worker(settings, classifier)
    worker.start()
    arrived, fetches = asyncio.Event(), []

    async def fetch() -> bytes:
        fetches.append(1)
        await arrived.wait()
        return sample(samples_dir, "rabbit")

    try:
        first = asyncio.ensure_future(worker.classify(fetch, DEFAULT_LABELS, key="k"))
        second = asyncio.ensure_future(worker.classify(fetch, DEFAULT_LABELS, key="k"))
        while worker.stats.joined < 1:
            await asyncio.sleep(0.005)
        first.cancel()  # the caller whose fetch is running leaves
        arrived.set()
        assert (await second).label == "rabbit"
        assert first.cancelled() and len(fetches) == 1
        batches, encoded = worker.stats.batches, worker.stats.labels_encoded
        hit = await worker.classify(fetch, ["rabbit", "Duck", "Lion"], key="k")  # two label strings never seen
        assert hit.label == "rabbit" and len(fetches) == 1
        assert worker.stats.batches == batches  # no image batch: the cached embedding, scored on the loop
        assert worker.stats.labels_encoded == encoded + 2  # through the chunked path, like everyone's
    finally:
        await worker.stop()


def test_the_cache_keeps_embeddings_across_opening_and_only_for_its_identity(tmp_path: Path) -> None:
    path = ImageEmbeddingCache.file_for(tmp_path, "model A")
    assert path != ImageEmbeddingCache.file_for(tmp_path, "model B")
    cache = ImageEmbeddingCache(path, "model A", max_entries=3)
    for i in range(5):
        cache.put(f"k{i}", torch.full((4,), float(i)))
    assert cache.get("k0") is None and cache.get("k1") is None  # the bound: the oldest went
    cache.get("k2")  # used: now the newest
    cache.close()
    reopened = ImageEmbeddingCache(path, "model A", max_entries=2)
    assert len(reopened) == 2 and reopened.get("k3") is None  # the least recently used is dropped first
    assert torch.equal(reopened.get("k2"), torch.full((4,), 2.0))  # type: ignore[arg-type]
    reopened.close()
    assert len(ImageEmbeddingCache(path, "model B")) == 0  # a file made by another model is never read
    path.write_bytes(b"not a cache")
    assert len(ImageEmbeddingCache(path, "model A")) == 0  # a damaged file costs re-encoding only


async def test_the_cache_is_written_in_the_background(tmp_path: Path, patience: float) -> None:
    path = ImageEmbeddingCache.file_for(tmp_path, "model A")
    cache = ImageEmbeddingCache(path, "model A", save_interval=3600)
    cache.put(content_key(b"picture"), torch.ones(4))  # the first change is written at once, by the writer
    deadline = time.monotonic() + 10 * patience
    while cache.saves == 0:
        assert time.monotonic() < deadline, "the writer did not write"
        await asyncio.sleep(0.01)
    assert ImageEmbeddingCache(path, "model A").get(content_key(b"picture")) is not None
    cache.put("later", torch.ones(4))  # within the interval: waits for it, or for close()
    assert cache.saves == 1
    cache.close()
    assert cache.saves == 2 and "later" in ImageEmbeddingCache(path, "model A")


async def until(condition: Callable[[], bool], patience: float, what: str) -> None:
    """Poll, with a deadline, for what a thread of the cache does."""
    deadline = time.monotonic() + 10 * patience
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("blocked", ["temporary", "target"])
async def test_a_failed_background_write_is_logged_leaves_no_temporary_file_and_is_retried(
        tmp_path: Path, patience: float, caplog: pytest.LogCaptureFixture, blocked: str) -> None:
    """A directory where the temporary file goes (torch's writer raises RuntimeError) or where the
    file goes (os.replace raises OSError): the writer thread lives on and writes once it can."""
    path = ImageEmbeddingCache.file_for(tmp_path, "model A")
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    blocker = temporary if blocked == "temporary" else path
    cache = ImageEmbeddingCache(path, "model A", save_interval=0)
    blocker.mkdir()
    try:
        with caplog.at_level(logging.WARNING):
            cache.put("a", torch.ones(4))
            await until(lambda: len(caplog.messages) == 1, patience, "the failed write was not logged")
        [warning] = caplog.messages
        assert warning.startswith(f"Could not write the image-embedding cache {path}: ")
        assert "directory" in warning  # what went wrong, named
        assert [p.name for p in tmp_path.iterdir()] == [blocker.name]  # no temporary file left behind
        assert cache.saves == 0
        assert torch.equal(cache.get("a"), torch.ones(4))  # type: ignore[arg-type]  # still served from memory
        blocker.rmdir()
        cache.put("b", torch.zeros(4))  # the writer, still alive, writes both at the next change
        await until(lambda: cache.saves == 1, patience, "the writer did not write after a failed write")
    finally:
        cache.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    saved = torch.load(path, weights_only=True)
    assert saved["keys"] == ["a", "b"] and saved["identity"] == "model A"
    assert len(caplog.messages) == 1  # one line for the one failure


def test_close_after_a_failed_write_logs_it_and_keeps_the_memory(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = ImageEmbeddingCache.file_for(tmp_path, "model A")
    cache = ImageEmbeddingCache(path, "model A", save_interval=3600)
    path.mkdir()  # the file cannot take its place
    with caplog.at_level(logging.WARNING):
        cache.put("a", torch.ones(4))
        cache.close()  # never raises into the shutdown
        cache.flush()  # still dirty: tried again
    assert len(caplog.messages) == 2  # close() and flush() tried and failed; the writer had nothing new
    assert all(m.startswith(f"Could not write the image-embedding cache {path}: ") for m in caplog.messages)
    assert cache.saves == 0 and "a" in cache
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    path.rmdir()
    cache.flush()
    assert cache.saves == 1 and torch.load(path, weights_only=True)["keys"] == ["a"]
