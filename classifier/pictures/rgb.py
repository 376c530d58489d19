"""Any decoded picture to RGB: whole (to_rgb), or a strip at a time while it is shrunk (shrink_to_rgb),
so that no conversion ever holds a full-size copy of a big picture."""

from __future__ import annotations

import numpy as np
from PIL import Image

from classifier.pictures.footprint import STRIP_PIXELS, Shrink

_WHITE = (255, 255, 255)
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
# EXIF orientation -> the transposition that makes the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


def to_rgb(image: Image.Image, span: tuple[float, float] | None = None) -> Image.Image:
    """Any mode to RGB: transparency onto white, 16-bit scaled down, CMYK and palettes converted.
    span: the lowest and highest value of a whole 32-bit float picture of which image is a part
    (float pictures are stretched to 0..255 between them); by default image's own."""
    mode = image.mode
    if mode in _SIXTEEN_BIT:
        pixels = np.asarray(image, dtype=np.uint32)
        # 16-bit data: keep the high byte. 32-bit 'I' from a 16-bit PNG holds 0..65535 too.
        image = Image.fromarray((pixels >> 8).clip(0, 255).astype(np.uint8), mode="L")
    elif mode == "F":
        pixels = np.asarray(image, dtype=np.float32)
        lo, hi = span or (float(pixels.min()), float(pixels.max()))
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = Image.fromarray(((pixels - lo) * scale).astype(np.uint8), mode="L")
    if image.mode == "La":  # premultiplied grey and alpha: Pillow converts it to LA only
        image = image.convert("LA")
    has_alpha = image.mode in {"RGBA", "LA", "PA", "RGBa"} or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_WHITE, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def shrink_to_rgb(image: Image.Image, shrink: Shrink, orientation: int = 1) -> Image.Image:
    """The kept part of a loaded picture, in RGB, reduced by shrink.factor and turned upright.

    Each strip (a whole number of reduced rows, about STRIP_PIXELS) is cropped, converted to RGB
    with its transparency on white, and reduced (each output pixel the mean of a factor×factor
    block), so the result equals converting the whole picture and then reducing it, while only the
    decoded picture and one strip are ever held at full size.
    """
    left, top, right, bottom = shrink.box
    factor = shrink.factor
    if shrink.box == (0, 0, *image.size) and factor == 1 and image.size[0] * image.size[1] <= STRIP_PIXELS:
        return _upright(to_rgb(image), orientation)
    span = image.getextrema() if image.mode == "F" else None  # one stretch for every strip
    rows = max(factor, STRIP_PIXELS // max(1, right - left) // factor * factor)
    result = Image.new("RGB", shrink.size)
    for y in range(top, bottom, rows):
        strip = to_rgb(image.crop((left, y, right, min(y + rows, bottom))), span)  # type: ignore[arg-type]
        result.paste(strip.reduce(factor) if factor > 1 else strip, (0, (y - top) // factor))
    return _upright(result, orientation)


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    method = _UPRIGHT.get(orientation)
    return image.transpose(method) if method is not None else image
