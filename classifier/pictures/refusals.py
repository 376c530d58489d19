"""What a picture or a video may cost, and the errors that refuse one: each message is one sentence for
the user (a template and its values, translated by the bot). Shared by images.py and video.py."""

from __future__ import annotations

from dataclasses import dataclass

from classifier.messages import Explained

FORMAT_NAMES = "JPEG, PNG, WEBP, GIF, BMP, TIFF, HEIC, AVIF"  # no "or": it goes into every language


class ImageError(Explained):
    """A picture that cannot be classified; the message is one sentence for the user."""


class NotAnImage(ImageError):
    """The bytes are not a picture in an accepted format."""


class ImageTooLarge(ImageError):
    """The file, its pixel count or the memory decoding it would take is over a limit."""


class DamagedImage(ImageError):
    """The header was fine but the pixels could not be decoded."""


@dataclass(frozen=True)
class ImageLimits:
    """What a picture may cost before any pixel is decoded."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 50_000_000
    # Decode memory shared by every decode thread (classifier/pictures/budget.py); a picture whose
    # worst case is more is refused.
    max_decode_bytes: int = 300 * 1024 * 1024
