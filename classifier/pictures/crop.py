"""The long-strip trim: a very long picture is cut to its centre before the model's resize, on the
Pillow path and on the device path alike."""

from __future__ import annotations

from PIL import Image

MAX_ASPECT = 2


def aspect_trim_box(width: int, height: int) -> tuple[int, int, int, int] | None:
    """The centre (left, top, right, bottom) of a very long strip, cut to MAX_ASPECT:1; None when
    the picture is not that long.

    The model sees only the centre square after a shortest-side resize, so this keeps
    all of it, while a 12000×8 strip would otherwise be resized to 384000×256 pixels.
    """
    if width > MAX_ASPECT * height:
        left = (width - MAX_ASPECT * height) // 2
        return left, 0, left + MAX_ASPECT * height, height
    if height > MAX_ASPECT * width:
        top = (height - MAX_ASPECT * width) // 2
        return 0, top, width, top + MAX_ASPECT * width
    return None


def trim_extreme_aspect(image: Image.Image) -> Image.Image:
    """Crop a very long strip to MAX_ASPECT:1 around its centre before resizing (aspect_trim_box)."""
    box = aspect_trim_box(*image.size)
    return image.crop(box) if box else image
