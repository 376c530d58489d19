"""GIFs, videos, video notes and stickers through the real bot against the fake Bot API."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telegram.ext import Application

from bot.settings import BotSettings
from tests import pictures
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user
from tests.test_hostile import one_sentence

ANN, BOB = 801, 802
GROUP = -100801


def frames_of(samples_dir: Path, *labels: str) -> list[Image.Image]:
    return [Image.open(samples_dir / label / "01.png").convert("RGB") for label in labels]


def fox_in_the_middle(samples_dir: Path, **options: Any) -> bytes:
    """A clip that shows a duck, then a fox (its middle keyframe), then a duck again."""
    return pictures.story(frames_of(samples_dir, "duck", "fox", "duck"), **options)


def small_thumbnail(fake: FakeTelegram, samples_dir: Path) -> dict[str, Any]:
    """A 16×16 duck: smaller than the tiny model's 32-pixel input, so the file itself is read."""
    duck = frames_of(samples_dir, "duck")[0].resize((16, 16))
    return fake.thumbnail(16, 16, pictures.encode(duck, "JPEG"))


async def send(fake: FakeTelegram, **message: Any) -> dict[str, Any]:
    return await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, **message)


async def only_answer(fake: FakeTelegram, message: dict[str, Any], chat_id: int = ANN) -> str:
    """The one answer to message; fails if there is another."""
    await fake.wait_for(lambda: any(a["reply_parameters"]["message_id"] == message["message_id"]
                                    for a in fake.sent(chat_id)))
    found = [a["text"] for a in fake.sent(chat_id) if a["reply_parameters"]["message_id"] == message["message_id"]]
    assert len(found) == 1, found
    return str(found[0])


def top(text: str) -> str:
    return text.split("\n")[0]


async def test_a_gif_as_animation_and_document_is_read_from_its_middle(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    gif = fake.animation(fox_in_the_middle(samples_dir), 64, 64, thumbnail=small_thumbnail(fake, samples_dir))
    message = await send(fake, **gif)
    assert top(await only_answer(fake, message)).startswith("<b>fox</b>")
    assert fake.downloads == [gif["animation"]["file_id"]]  # the file; the thumbnail is too small


async def test_a_thumbnail_that_covers_the_model_input_is_used_instead_of_the_file(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    thumbnail = fake.thumbnail(64, 64, sample(samples_dir, "fox", 1))
    gif = fake.animation(b"not even a video: never downloaded", 320, 320, thumbnail=thumbnail)
    message = await send(fake, **gif)
    assert top(await only_answer(fake, message)).startswith("<b>fox</b>")
    assert fake.downloads == [thumbnail["file_id"]]


async def test_a_video_and_a_video_note_are_classified(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                       samples_dir: Path) -> None:
    video = await send(fake, video=fake.video(fox_in_the_middle(samples_dir), 64, 64))
    note = await send(fake, video_note=fake.video_note(fox_in_the_middle(samples_dir), 64,
                                                       thumbnail=small_thumbnail(fake, samples_dir)))
    assert top(await only_answer(fake, video)).startswith("<b>fox</b>")
    assert top(await only_answer(fake, note)).startswith("<b>fox</b>")


async def test_a_video_file_sent_as_a_document_is_classified(bot: Application,  # type: ignore[type-arg]
                                                             fake: FakeTelegram, samples_dir: Path) -> None:
    webm = fox_in_the_middle(samples_dir, fmt="webm", codec="libvpx-vp9")
    message = await send(fake, document=fake.document(webm, "fox.webm", "video/webm"))
    assert top(await only_answer(fake, message)).startswith("<b>fox</b>")


async def test_a_caption_list_labels_a_gif(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                           samples_dir: Path) -> None:
    message = await send(fake, caption="pig, fox", **fake.animation(fox_in_the_middle(samples_dir), 64, 64))
    answer = await only_answer(fake, message)
    assert top(answer).startswith("<b>fox</b>") and answer.count("\n") == 1  # two labels: pig and fox


async def test_groups_classify_and_play_with_videos(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                   samples_dir: Path) -> None:
    chat = group_chat(GROUP)
    video = await fake.push(chat=chat, **{"from": user(BOB, "Bob")},
                            **fake.animation(fox_in_the_middle(samples_dir), 64, 64))
    command = await fake.push(chat=chat, **{"from": user(BOB, "Bob")}, text="/classify", reply_to_message=video)
    assert top(await only_answer(fake, video, GROUP)).startswith("<b>fox</b>")
    assert not [a for a in fake.sent(GROUP) if a["reply_parameters"]["message_id"] == command["message_id"]]
    note = await fake.push(chat=chat, **{"from": user(BOB, "Bob")},
                           video_note=fake.video_note(fox_in_the_middle(samples_dir), 64))
    await fake.push(chat=chat, **{"from": user(BOB, "Bob")}, text="/game", reply_to_message=note)
    await fake.wait_for(lambda: any(a["text"].startswith("Which animal") for a in fake.sent(GROUP)))
    round_message = next(a for a in fake.sent(GROUP) if a["text"].startswith("Which animal"))
    assert round_message["reply_parameters"]["message_id"] == note["message_id"]


async def test_a_video_over_the_size_limit_is_read_from_its_thumbnail(
        bot_settings: BotSettings, fake: FakeTelegram, samples_dir: Path) -> None:
    small = replace(bot_settings, classifier=replace(bot_settings.classifier, max_image_bytes=2**20))
    async with running_bot(small):
        thumbnail = small_thumbnail(fake, samples_dir)
        with_thumbnail = await send(fake, video=fake.video(b"x", 64, 64, thumbnail=thumbnail, file_size=30 * 2**20))
        without = await send(fake, video=fake.video(b"x", 64, 64, file_size=30 * 2**20))
        assert top(await only_answer(fake, with_thumbnail)).startswith("<b>")
        assert await only_answer(fake, without) == "That file is 30.0 MB; the limit is 1 MB."
    assert fake.downloads == [thumbnail["file_id"]]


async def test_stickers_without_a_preview(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                          samples_dir: Path) -> None:
    video_sticker = await send(fake, sticker=fake.sticker(
        pictures.story(frames_of(samples_dir, "fox", "fox", "fox"), fmt="webm", codec="libvpx-vp9"), video=True))
    animated = await send(fake, sticker=fake.sticker(b"\x1f\x8b" + b"\x00" * 100, animated=True))
    assert top(await only_answer(fake, video_sticker)).startswith("<b>fox</b>")
    assert await only_answer(fake, animated) == (
        "This sticker cannot be read: it is animated and has no preview picture.")


def hostile_media(samples_dir: Path) -> dict[str, tuple[str, bytes, str, str | None]]:
    """name -> (how it is sent, bytes, the mime type it claims, the answer it gets; None: a prediction)."""
    clip = fox_in_the_middle(samples_dir)
    damaged = "The video is truncated or damaged and cannot be read."
    return {
        "truncated.mp4": ("video", clip[: len(clip) // 2], "video/mp4", damaged),
        "truncated-index-first.mp4": ("video", fox_in_the_middle(samples_dir, faststart=True)[:600], "video/mp4",
                                      damaged),
        "claims-65000x65000.mp4": ("video", pictures.mp4_claiming(65_000, 65_000), "video/mp4", damaged),
        "declares-50-million-samples.mp4": ("video", pictures.mp4_declaring(50_000_000), "video/mp4", damaged),
        "fragment-of-50-million-samples.mp4": ("animation", pictures.mp4_fragment_declaring(50_000_000), "video/mp4",
                                               damaged),
        "compressed-header.mp4": ("video", pictures.mp4_compressed_header(300), "video/mp4", damaged),
        "claims-8000x8000.mp4": ("animation", pictures.mp4_claiming(8000, 8000), "video/mp4",
                                 "The video is 8000×8000 (64.0 megapixels); the limit is 50 megapixels."),
        "text.mp4": ("video", b"this is plain text, not a video\n" * 20, "video/mp4",
                     "This file is not a picture I can read; send a JPEG, PNG, WEBP, GIF, BMP, TIFF, HEIC, AVIF "
                     "image."),
        "empty.mp4": ("video_note", b"", "video/mp4", "The file is empty."),
        "sound-only.mp4": ("document", pictures.sound_only_mp4(), "video/mp4",
                           "The file has no video in it, so there is nothing to look at."),
        "png-said-to-be-mp4.mp4": ("document", sample(samples_dir, "fox", 2), "video/mp4", None),
        "mp4-said-to-be-png.png": ("document", clip, "image/png", None),
        "mp4-said-to-be-gif.gif": ("animation", clip, "image/gif", None),
    }


async def test_hostile_media_get_one_sentence_each(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                   samples_dir: Path) -> None:
    sent: dict[str, tuple[dict[str, Any], str | None]] = {}
    for name, (how, data, mime_type, expected) in hostile_media(samples_dir).items():
        if how == "video":
            fields: dict[str, Any] = {"video": fake.video(data, 64, 64, mime_type=mime_type)}
        elif how == "animation":
            fields = fake.animation(data, 64, 64, mime_type=mime_type)
        elif how == "video_note":
            fields = {"video_note": fake.video_note(data, 64)}
        else:
            fields = {"document": fake.document(data, name, mime_type)}
        sent[name] = (await send(fake, **fields), expected)
    for name, (message, expected) in sent.items():
        answer = await only_answer(fake, message)
        if expected is None:
            assert answer.startswith("<b>"), (name, answer)
        else:
            assert answer == expected, (name, answer)
            assert one_sentence(answer), name
    assert len(fake.sent(ANN)) == len(sent)


@pytest.mark.parametrize("language", ["ru"])
async def test_video_sentences_are_translated(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                              language: str) -> None:
    message = await fake.push(chat=private_chat(ANN), **{"from": user(ANN, language_code=language)},
                              video=fake.video(pictures.mp4_claiming(8000, 8000), 64, 64))
    answer = await only_answer(fake, message)
    assert answer != "The video is 8000×8000 (64.0 megapixels); the limit is 50 megapixels."
    assert "8000×8000" in answer and "64" in answer
