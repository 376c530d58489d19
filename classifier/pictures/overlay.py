"""A picture people can read of where the model looked: the picture, upright and in its own shape,
under a heat map of one label, with the crop the model saw outlined and a colour bar below.

Pillow and numpy only. The colours are viridis (van der Walt and Smith, matplotlib's default since
2.0): dark purple through blue and green to yellow, its lightness rising evenly, so it reads the same
in grey and to readers with any of the common colour-vision deficiencies.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# viridis at 0, 1/8, ..., 1 (matplotlib's table sampled); LUT interpolates them to 256 entries.
_VIRIDIS_STOPS = ((68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140),
                  (40, 174, 128), (94, 201, 98), (173, 220, 48), (253, 231, 37))
LUT = np.stack([np.interp(np.linspace(0, 1, 256), np.linspace(0, 1, len(_VIRIDIS_STOPS)), channel)
                for channel in np.array(_VIRIDIS_STOPS, dtype=np.float64).T], axis=1).round().astype(np.uint8)

LONG_SIDE_MAX = 1280  # Telegram shows a photo this size without a tap, sharp
LONG_SIDE_MIN = 640  # a small sticker is enlarged to this, so the map is not a thumbnail
HEAT_ALPHA = 0.55  # the map's share of each pixel inside the crop
OUTSIDE_DIM = 0.45  # what is left of the picture's brightness outside the crop the model saw
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Overlay:
    """The JPEG and its size in pixels."""

    jpeg: bytes
    width: int
    height: int


def spread(grid: np.ndarray) -> np.ndarray:
    """A map stretched to 0..1 (its lowest patch 0, its highest 1); all zeros when it is flat."""
    low, high = float(grid.min()), float(grid.max())
    if high - low < 1e-6:
        return np.zeros_like(grid, dtype=np.float32)
    return ((grid - low) / (high - low)).astype(np.float32)


def centre_square(width: int, height: int) -> tuple[int, int, int, int]:
    """What a shortest-side resize then a centre crop keeps: the centred square of the shorter side
    (after the long-strip trim of classifier/pictures/crop.py, which keeps the centre too)."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def display_size(width: int, height: int) -> tuple[int, int]:
    """The picture's size in the overlay: its long side within LONG_SIDE_MIN..LONG_SIDE_MAX, its shape kept."""
    long_side = max(width, height)
    scale = min(LONG_SIDE_MAX, max(LONG_SIDE_MIN, long_side)) / long_side
    return max(1, round(width * scale)), max(1, round(height * scale))


def draw_overlay(picture: Image.Image, grid: np.ndarray, square_crop: bool = True) -> Overlay:
    """The overlay of a (rows, columns) map on an upright RGB picture, as a JPEG.

    square_crop: the model saw the centre square (a shortest-side resize and a centre crop); the map
    covers that square, and the rest of a wider or taller picture is dimmed and the square outlined.
    """
    width, height = display_size(*picture.size)
    shown = np.asarray(picture.convert("RGB").resize((width, height), Image.Resampling.LANCZOS), dtype=np.float32)
    left, top, right, bottom = centre_square(width, height) if square_crop else (0, 0, width, height)
    heat = Image.fromarray(spread(grid)).resize((right - left, bottom - top), Image.Resampling.BILINEAR)
    colours = LUT[(np.clip(np.asarray(heat), 0, 1) * 255).round().astype(np.uint8)].astype(np.float32)
    out = shown * OUTSIDE_DIM
    out[top:bottom, left:right] = (1 - HEAT_ALPHA) * shown[top:bottom, left:right] + HEAT_ALPHA * colours
    bar = max(10, height // 28)
    gap = max(4, bar // 2)
    canvas = Image.new("RGB", (width, height + gap + bar), (255, 255, 255))
    canvas.paste(Image.fromarray(out.round().astype(np.uint8)), (0, 0))
    ramp = LUT[np.linspace(0, 255, width).round().astype(np.uint8)]
    canvas.paste(Image.fromarray(np.repeat(ramp[None], bar, axis=0)), (0, height + gap))
    if (right - left, bottom - top) != (width, height):
        pen = ImageDraw.Draw(canvas)
        line = max(2, width // 320)
        pen.rectangle((left, top, right - 1, bottom - 1), outline=(255, 255, 255), width=line)
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return Overlay(buffer.getvalue(), canvas.width, canvas.height)
