"""Pictures at the pixel limit that are small files: one per format and mode the bot accepts, for
measuring what decoding them costs (tests/decode_peak.py, tests/test_decode_budget.py).

PNGs are written row by row (a few distinct rows, repeated), so making one costs no more memory
than a row; the other formats go through Pillow's encoders.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from PIL import Image

import classifier.pictures.images  # noqa: F401  (registers the HEIF plugin, so HEIC can be written here)

SIDE = 7000  # 49 megapixels: under the default limit of 50


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(side: int, colour_type: int, bit_depth: int, channels: int, extra: bytes = b"") -> bytes:
    """A side×side PNG of soft horizontal bands, written row by row; extra: chunks before IDAT."""
    sample = bit_depth // 8 or 1
    compressor = zlib.compressobj(6)
    parts = []
    bands = [bytes([0]) + bytes([(40 * band + 7 * channel) % 256 for channel in range(channels)]) * side * sample
             for band in range(6)]
    if bit_depth < 8:
        bands = [b"\x00" + bytes([0x0F * (band % 2) | 0xF0 * (band // 3 % 2)]) * ((side * bit_depth + 7) // 8)
                 for band in range(6)]
    for row in range(side):
        parts.append(compressor.compress(bands[row * 6 // side]))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + extra + _chunk(b"IDAT", b"".join(parts))
            + _chunk(b"IEND", b""))


def _bands(mode: str, side: int) -> Image.Image:
    """Six horizontal bands of colour in mode, side×side (a flat picture compresses to little)."""
    image = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    for band in range(6):
        colour = (40 * band, 255 - 30 * band, 90, 255 if band % 2 else 120)
        image.paste(colour, (0, band * side // 6, side, (band + 1) * side // 6))
    converted = image if mode == "RGBA" else image.convert(mode)
    return converted


def _encoded(mode: str, fmt: str, side: int, **options: object) -> bytes:
    buffer = io.BytesIO()
    _bands(mode, side).save(buffer, fmt, **options)
    return buffer.getvalue()


def _apng(side: int) -> bytes:
    """An animated PNG whose first frame is disposed to the background (Pillow fills a second canvas)."""
    frames = [_bands("RGBA", side), _bands("RGBA", side).transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], disposal=1, duration=100)
    return buffer.getvalue()


# name -> how to make it at a given side. Sizes: each is a few hundred KB at 7000×7000.
MAKERS: dict[str, Callable[[int], bytes]] = {
    "png-rgba": lambda side: png(side, 6, 8, 4),
    "png-grey16": lambda side: png(side, 0, 16, 1),
    "png-rgba16": lambda side: png(side, 6, 16, 4),
    "png-rgb": lambda side: png(side, 2, 8, 3),
    "png-la": lambda side: png(side, 4, 8, 2),
    "png-palette-trns": lambda side: png(side, 3, 8, 1, _chunk(b"PLTE", bytes(range(256)) * 3)
                                         + _chunk(b"tRNS", b"\x00\x80")),
    "png-bilevel": lambda side: png(side, 0, 1, 1),
    "apng": _apng,
    "jpeg": lambda side: _encoded("RGB", "JPEG", side, quality=90),
    "jpeg-progressive": lambda side: _encoded("RGB", "JPEG", side, quality=90, progressive=True),
    "jpeg-444-progressive": lambda side: _encoded("RGB", "JPEG", side, quality=90, progressive=True,
                                                  subsampling=0),
    "jpeg-cmyk": lambda side: _encoded("CMYK", "JPEG", side, quality=90),
    "webp-lossless-rgba": lambda side: _encoded("RGBA", "WEBP", side, lossless=True, method=0),
    "webp-lossy": lambda side: _encoded("RGB", "WEBP", side, quality=80, method=0),
    "gif": lambda side: _encoded("P", "GIF", side),
    "bmp-rle8": lambda side: _bmp_rle8(side),
    "tiff-rgba-deflate": lambda side: _encoded("RGBA", "TIFF", side, compression="tiff_adobe_deflate"),
    "tiff-grey16-deflate": lambda side: _encoded("I;16", "TIFF", side, compression="tiff_adobe_deflate"),
    "tiff-cmyk-deflate": lambda side: _encoded("CMYK", "TIFF", side, compression="tiff_adobe_deflate"),
    "heic": lambda side: _encoded("RGB", "HEIF", side, quality=50),
    "avif": lambda side: _encoded("RGB", "AVIF", side, quality=50, speed=10),
}


def _bmp_rle8(side: int) -> bytes:
    """An 8-bit palette BMP compressed with RLE8 (runs of 255 pixels), which Pillow reads as P."""
    rows = []
    for row in range(side):
        colour = row * 6 // side
        runs = b"".join(bytes([min(255, side - x), colour]) for x in range(0, side, 255))
        rows.append(runs + b"\x00\x00")
    pixels = b"".join(rows) + b"\x00\x01"
    palette = b"".join(bytes([40 * i % 256, (200 - 20 * i) % 256, 90, 0]) for i in range(256))
    header_size = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    file_header = b"BM" + struct.pack("<IHHI", header_size + len(pixels), 0, 0, header_size)
    return file_header + info + palette + pixels


def made(names: list[str], folder: Path, side: int = SIDE) -> Iterator[Path]:
    """Each named picture as a file in folder, made once (kept between runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = folder / f"{name}-{side}"
        if not path.exists():
            path.write_bytes(MAKERS[name](side))
        yield path
