"""Finding the picture in a Telegram message and downloading no more of it than needed.

Photos, stickers and image files are pictures; GIFs (which Telegram delivers as MP4 animations),
videos, round video notes and video files are read from their thumbnail when it covers the model's
input, else from the file itself (classifier/pictures/video.py takes one frame).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Animation, Bot, Document, Message, PhotoSize, Video, VideoNote
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError

from classifier.messages import Explained
from classifier.pictures.images import FORMAT_NAMES

logger = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 3
RETRY_DELAYS = (0.3, 1.0)  # seconds before the second and third attempt
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv")


class NoPicture(Explained):
    """The message holds nothing to classify; the message says what to send instead."""


class PictureTooLarge(Exception):
    """Telegram reports a file larger than the limit: not downloaded."""


@dataclass(frozen=True)
class Picture:
    """A file on Telegram's servers that should be an image."""

    file_id: str
    file_size: int | None
    kind: str  # photo, document, sticker, sticker thumbnail, animation, video, video note, ... thumbnail
    # What to read instead when the file is over the size limit: a video's thumbnail, however small.
    fallback: Picture | None = None
    # The same for every user and bot: the key of the picture's embedding (None: not cached)
    file_unique_id: str | None = None


def smallest_covering(sizes: tuple[PhotoSize, ...], side: int) -> PhotoSize:
    """The smallest size whose shorter side is at least side; the largest if none is."""
    ordered = sorted(sizes, key=lambda s: s.width * s.height)
    for size in ordered:
        if min(size.width, size.height) >= side:
            return size
    return ordered[-1]


def covers(size: PhotoSize | None, side: int) -> bool:
    """Whether a thumbnail is big enough for the model: its shorter side at least side."""
    return size is not None and min(size.width, size.height) >= side


def has_picture(message: Message | None) -> bool:
    """Whether message holds something find_picture can read: a picture, a GIF, a video or a video note."""
    if message is None:
        return False
    return bool(message.photo or message.sticker or message.animation or message.video or message.video_note
                or _image_document(message) or _video_document(message))


def _image_document(message: Message) -> bool:
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return (document.mime_type or "").startswith("image/") or name.endswith(IMAGE_EXTENSIONS)


def _video_document(message: Message) -> bool:
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return (document.mime_type or "").startswith("video/") or name.endswith(VIDEO_EXTENSIONS)


def _clip(media: Animation | Video | VideoNote | Document, kind: str, side: int) -> Picture:
    """A moving picture: its thumbnail when that covers side, else the file (one frame is read from
    it), with the thumbnail to fall back on when the file is over the size limit."""
    thumbnail = media.thumbnail
    preview = (Picture(thumbnail.file_id, thumbnail.file_size, f"{kind} thumbnail",
                       file_unique_id=thumbnail.file_unique_id) if thumbnail else None)
    if preview is not None and covers(thumbnail, side):
        return preview
    return Picture(media.file_id, media.file_size, kind, fallback=preview, file_unique_id=media.file_unique_id)


def find_picture(message: Message, side: int) -> Picture:
    """The picture to classify in message, choosing the cheapest adequate file; raises NoPicture."""
    if message.photo:
        best = smallest_covering(message.photo, side)
        return Picture(best.file_id, best.file_size, "photo", file_unique_id=best.file_unique_id)
    if message.sticker:
        sticker = message.sticker
        if not (sticker.is_animated or sticker.is_video):
            return Picture(sticker.file_id, sticker.file_size, "sticker", file_unique_id=sticker.file_unique_id)
        if sticker.thumbnail is not None:
            return Picture(sticker.thumbnail.file_id, sticker.thumbnail.file_size, "sticker thumbnail",
                           file_unique_id=sticker.thumbnail.file_unique_id)
        if sticker.is_video:  # a WebM: one frame of it
            return Picture(sticker.file_id, sticker.file_size, "video sticker", file_unique_id=sticker.file_unique_id)
        raise NoPicture("This sticker cannot be read: it is animated and has no preview picture.")
    # Older clients send a GIF as an animation and a document: the animation comes first.
    for media, kind in ((message.animation, "animation"), (message.video, "video"),
                        (message.video_note, "video note")):
        if media is not None:
            return _clip(media, kind, side)
    if message.document:
        if _video_document(message):
            return _clip(message.document, "video document", side)
        if not _image_document(message):
            raise NoPicture("That file is not a picture; send a photo, a sticker or an image file ({formats}).",
                            formats=FORMAT_NAMES)
        return Picture(message.document.file_id, message.document.file_size, "document",
                       file_unique_id=message.document.file_unique_id)
    raise NoPicture("There is no picture here; send a photo, a sticker or an image file.")


def file_ids(message: Message) -> frozenset[str]:
    """Telegram's file_unique_id of every file of the message's picture (each photo size, a media file and
    its thumbnail): the same picture forwarded, sent as another size, or as a file shares at least one."""
    media = [*message.photo, message.sticker, message.animation, message.video, message.video_note,
             message.document]
    found = {m.file_unique_id for m in media if m is not None}
    found |= {m.thumbnail.file_unique_id for m in media
              if m is not None and not isinstance(m, PhotoSize) and m.thumbnail is not None}
    return frozenset(found)


async def download(bot: Bot, picture: Picture, max_bytes: int) -> bytes:
    """The picture's bytes, refusing files over max_bytes before and after downloading; a video
    over the limit gives its thumbnail instead, when it has one.

    Telegram's passing failures (5xx, timeouts, dropped connections) are retried twice;
    a refusal (bad request, forbidden) is not.
    """
    try:
        return await _download(bot, picture, max_bytes)
    except PictureTooLarge:
        if picture.fallback is None:
            raise
        logger.info("A %s is over the size limit; reading its thumbnail", picture.kind)
        return await _download(bot, picture.fallback, max_bytes)


async def _download(bot: Bot, picture: Picture, max_bytes: int) -> bytes:
    if picture.file_size is not None and picture.file_size > max_bytes:
        raise PictureTooLarge(picture.file_size)
    for attempt in range(DOWNLOAD_ATTEMPTS):
        try:
            return await _download_once(bot, picture, max_bytes)
        except (BadRequest, Forbidden, InvalidToken):
            raise
        except NetworkError as exc:
            if attempt == DOWNLOAD_ATTEMPTS - 1:
                raise
            logger.info("Download of a %s failed (%s); retrying", picture.kind, exc)
            await asyncio.sleep(RETRY_DELAYS[attempt])
    raise AssertionError("unreachable")


async def _download_once(bot: Bot, picture: Picture, max_bytes: int) -> bytes:
    file = await bot.get_file(picture.file_id)
    if file.file_size is not None and file.file_size > max_bytes:
        raise PictureTooLarge(file.file_size)
    data = bytes(await file.download_as_bytearray())
    if len(data) > max_bytes:
        raise PictureTooLarge(len(data))
    return data
