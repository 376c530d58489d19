"""Pictures made on the spot: ordinary, odd and hostile files for decoding tests."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

import classifier.images  # noqa: F401  (registers the HEIF plugin, so HEIC can be written here)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def half_and_half(size: tuple[int, int] = (64, 48)) -> Image.Image:
    """Left half red, right half blue: orientation and colour are easy to check."""
    image = Image.new("RGB", size, (255, 0, 0))
    image.paste((0, 0, 255), (size[0] // 2, 0, size[0], size[1]))
    return image


def exif_rotated_jpeg() -> bytes:
    """A 64×48 picture stored with EXIF orientation 6 (shown rotated 90° clockwise: 48×64)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(half_and_half(), "JPEG", exif=exif.tobytes(), quality=95)


def transparent_webp() -> bytes:
    """A sticker-like WEBP: fully transparent but for a black square in the middle."""
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (24, 24, 40, 40))
    return encode(image, "WEBP", lossless=True)


def palette_png_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    image.paste(1, (8, 8, 24, 24))
    return encode(image, "PNG", transparency=0)


def png_16bit() -> bytes:
    """A 16-bit greyscale PNG at 3/4 brightness (49151 of 65535)."""
    image = Image.new("I;16", (16, 16), 49151)
    return encode(image, "PNG")


def cmyk_jpeg() -> bytes:
    """Pure cyan in CMYK: reads as RGB (0, 255, 255)."""
    return encode(Image.new("CMYK", (32, 32), (255, 0, 0, 0)), "JPEG", quality=95)


def animated_gif() -> bytes:
    """Two frames: red, then blue. The first frame counts."""
    frames = [Image.new("RGB", (16, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)


def png_header(width: int, height: int, data: bytes | None = None) -> bytes:
    """A PNG that declares width×height; with data=None its pixel data is a tiny zlib
    stream of zeros (a decompression bomb), else the given IDAT payload."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    if data is None:
        compressor = zlib.compressobj(9)
        row = b"\x00" * (width + 1)
        data = compressor.compress(row * min(height, 64)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def big_jpeg(size: tuple[int, int] = (1280, 960)) -> bytes:
    image = half_and_half(size)
    return encode(image, "JPEG", quality=90)


def progressive_jpeg() -> bytes:
    return encode(half_and_half((256, 192)), "JPEG", progressive=True, quality=85)


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)


def svg() -> bytes:
    return b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


def corpus() -> dict[str, tuple[bytes, bool]]:
    """name -> (bytes, whether it should be classified); the rest must be refused in one sentence."""
    truncated = big_jpeg((512, 384))
    return {
        "progressive.jpg": (progressive_jpeg(), True),
        "cmyk.jpg": (cmyk_jpeg(), True),
        "16bit.png": (png_16bit(), True),
        "palette-transparent.png": (palette_png_with_transparency(), True),
        "exif-rotated.jpg": (exif_rotated_jpeg(), True),
        "1x1.png": (encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), True),
        "strip-12000x8.png": (encode(half_and_half((12_000, 8)), "PNG"), True),
        "animated.gif": (animated_gif(), True),
        "animated.webp": (animated_webp(), True),
        "sticker.webp": (transparent_webp(), True),
        "picture.bmp": (encode(half_and_half(), "BMP"), True),
        "picture.tiff": (encode(half_and_half(), "TIFF"), True),
        "iphone.heic": (encode(half_and_half(), "HEIF", quality=90), True),
        "phone.avif": (encode(half_and_half(), "AVIF", quality=90), True),
        "empty.jpg": (b"", False),
        "text.jpg": (b"this is plain text, not a picture\n" * 10, False),
        "drawing.svg": (svg(), False),
        "truncated.jpg": (truncated[: len(truncated) // 4], False),
        "bomb-60mp.png": (png_header(10_000, 6_000), False),
        "bomb-400mp.png": (png_header(20_000, 20_000), False),
        "header-65000.png": (png_header(65_000, 65_000, data=b""), False),
    }
