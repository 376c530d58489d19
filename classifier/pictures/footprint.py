"""What decoding a picture may cost in memory at most, told from its header before any pixel is
decoded: how much of it is kept and how far it is shrunk (the Shrink), and the bytes that takes.

The worst case is the sum of
- the decoded picture as Pillow holds it, at the size the decoder produces (JPEG draft included):
  pixel_bytes(mode) a pixel;
- what the format's decoder holds beside it (decoder_bytes): a progressive JPEG's coefficients at
  full size, a TIFF strip or tile, a GIF's canvas, BMP's run-length buffers, the buffers of the WEBP,
  HEIF and AVIF libraries (measured, with a margin: docs/limits.md);
- the conversion to RGB, done a strip at a time (STRIP_PIXELS at most, STRIP_BYTES_PER_PIXEL each);
- the shrunk RGB result, twice (an EXIF rotation copies it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from classifier.pictures.crop import aspect_trim_box

STRIP_PIXELS = 1 << 18  # pixels converted at a time; a strip is a whole number of reduced rows
# A strip through to_rgb at its dearest (16-bit grey): the crop (4), numpy's 32-bit copy, shift and
# clip (12), 8-bit grey (2), RGB (4); RGBA onto white is 16. Rounded up.
STRIP_BYTES_PER_PIXEL = 24
# What a library holds beside Pillow's picture, in bytes a pixel of the picture, measured at 7000×7000
# with tests/decode_peak.py (docs/limits.md) and rounded up with a margin.
# Measured: WEBP 12.0 (lossy and lossless, with and without alpha), HEIF 3.3 to 4.4, AVIF 5.2 to 8.0.
LIBRARY_BYTES_PER_PIXEL = {"WEBP": 13, "HEIF": 6, "AVIF": 9}
# Pillow's RLE reader gathers the pixels in a bytearray, then copies it: 2.05 measured.
BMP_BYTES_PER_PIXEL = 3
_JPEG_FAMILY = ("JPEG", "MPO")


def pixel_bytes(mode: str) -> int:
    """Bytes a pixel of this mode takes in Pillow's memory: 1 for 1-bit, L and P; 2 for 16-bit grey;
    4 for every other mode (Pillow keeps RGB in 4 bytes, like RGBA, and LA too)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


@dataclass(frozen=True)
class Shrink:
    """The part of a decoded picture that is kept (box: the long-strip trim) and the whole factor it is
    reduced by, so that its shorter side stays at least twice the model's input."""

    box: tuple[int, int, int, int]
    factor: int

    @property
    def size(self) -> tuple[int, int]:
        """The shrunk picture's width and height."""
        left, top, right, bottom = self.box
        return -(-(right - left) // self.factor), -(-(bottom - top) // self.factor)


def plan_shrink(size: tuple[int, int], target_size: int | None, trim: bool = True) -> Shrink:
    """How far a picture of this (decoded) size may shrink for a model of target_size, and with trim
    the long-strip trim; all of it, whole, without a target."""
    width, height = size
    if not target_size:
        return Shrink((0, 0, width, height), 1)
    box = (aspect_trim_box(width, height) if trim else None) or (0, 0, width, height)
    short = min(box[2] - box[0], box[3] - box[1])
    return Shrink(box, max(1, short // (2 * target_size)))


def worst_case_bytes(image: Image.Image, data: bytes, full_size: tuple[int, int], shrink: Shrink) -> int:
    """The most memory decoding, converting and shrinking this opened (not loaded) picture may hold;
    full_size is its size before any JPEG draft."""
    width, height = image.size
    strip = min(width * height, STRIP_PIXELS + width * shrink.factor)
    out_width, out_height = shrink.size
    return (width * height * pixel_bytes(image.mode) + decoder_bytes(image, data, full_size)
            + strip * STRIP_BYTES_PER_PIXEL + 2 * out_width * out_height * 4)


def decoder_bytes(image: Image.Image, data: bytes, full_size: tuple[int, int]) -> int:
    """What the format's decoder holds beside the decoded picture, at most."""
    pixels = image.size[0] * image.size[1]
    fmt = image.format or ""
    if fmt in _JPEG_FAMILY:
        return _jpeg_coefficients(image, data, full_size)
    if fmt == "GIF":
        return pixels * pixel_bytes(image.mode)  # the canvas the frames are drawn on (first frame: measured 0)
    if fmt == "TIFF":
        return _tiff_buffer(image) + len(data)
    if fmt == "BMP":
        return pixels * BMP_BYTES_PER_PIXEL
    return pixels * LIBRARY_BYTES_PER_PIXEL.get(fmt, 0) + len(data)


def _jpeg_coefficients(image: Image.Image, data: bytes, full_size: tuple[int, int]) -> int:
    """libjpeg keeps every DCT coefficient of the whole picture (2 bytes each, 64 a block, at full size
    whatever the draft) when it has more than one scan: progressive JPEGs, and baseline ones that
    send their components one by one. A single-scan JPEG is decoded a few rows at a time."""
    if not image.info.get("progressive") and _scans(data) < 2:
        return 0
    width, height = full_size
    layers = getattr(image, "layer", None) or [("", 1, 1, 0)] * 4
    h_max = max(layer[1] for layer in layers) or 1
    v_max = max(layer[2] for layer in layers) or 1
    blocks = sum((math.ceil(width * h / h_max / 8) + h) * (math.ceil(height * v / v_max / 8) + v)
                 for _, h, v, _ in layers)
    return blocks * 64 * 2


def _scans(data: bytes) -> int:
    """How many start-of-scan markers follow the first one's header, that one included; segments before
    it (an EXIF thumbnail, itself a JPEG) are stepped over. More than the truth when other bytes
    follow the picture (an MPO's second picture), never fewer."""
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return 1  # damaged: the decoder will say so
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte
            position += 1
        elif marker == 0xDA:
            return 1 + data.count(b"\xff\xda", position + 2)
        elif 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            position += 2
        else:
            position += 2 + int.from_bytes(data[position + 2:position + 4], "big")
    return 1


def _tiff_buffer(image: Image.Image) -> int:
    """libtiff reads a strip or a tile at a time into a buffer of its own: as many bytes as the strip or
    tile holds, or 4 a pixel where it converts to RGBA on the way (YCbCr, JPEG-compressed)."""
    tags = getattr(image, "tag_v2", {})
    width, height = image.size
    samples = int(tags.get(277, 1) or 1)
    bits = tags.get(258, 8)
    bits_per_pixel = sum(bits) if isinstance(bits, tuple) else int(bits) * samples
    if 322 in tags and 323 in tags:
        pixels = int(tags[322]) * int(tags[323])
    else:
        pixels = min(int(tags.get(278, height) or height), height) * width
    return pixels * max(math.ceil(bits_per_pixel / 8), 4)
