from __future__ import annotations

import pytest
from PIL import Image

from classifier import DamagedImage, ImageLimits, ImageTooLarge, NotAnImage, decode_image
from tests import pictures

LIMITS = ImageLimits()


def pixel(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    value = image.getpixel(xy)
    assert isinstance(value, tuple)
    return value


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF"])
def test_accepted_formats_decode_to_rgb(fmt: str) -> None:
    image = decode_image(pictures.encode(pictures.half_and_half(), fmt), LIMITS)
    assert image.mode == "RGB"
    assert image.size == (64, 48)
    red, green, blue = pixel(image, (5, 5))
    assert red > 200 and green < 60 and blue < 60


def test_exif_orientation_is_applied() -> None:
    image = decode_image(pictures.exif_rotated_jpeg(), LIMITS)
    assert image.size == (48, 64)
    # Rotated 90° clockwise: the red left half is now the top half.
    assert pixel(image, (24, 5))[0] > 200
    assert pixel(image, (24, 58))[2] > 200


def test_transparency_is_composited_onto_white() -> None:
    image = decode_image(pictures.transparent_webp(), LIMITS)
    assert pixel(image, (2, 2)) == (255, 255, 255)
    assert pixel(image, (32, 32)) == (0, 0, 0)


def test_palette_png_with_transparency() -> None:
    image = decode_image(pictures.palette_png_with_transparency(), LIMITS)
    assert pixel(image, (1, 1)) == (255, 255, 255)
    assert pixel(image, (16, 16)) == (0, 200, 0)


def test_16bit_png_keeps_its_brightness() -> None:
    image = decode_image(pictures.png_16bit(), LIMITS)
    assert pixel(image, (3, 3)) == (191, 191, 191)


def test_cmyk_jpeg_converts_to_rgb() -> None:
    red, green, blue = pixel(decode_image(pictures.cmyk_jpeg(), LIMITS), (8, 8))
    assert red < 40 and green > 215 and blue > 215


def test_animated_gif_uses_its_first_frame() -> None:
    red, _, blue = pixel(decode_image(pictures.animated_gif(), LIMITS), (8, 8))
    assert red > 200 and blue < 60


def test_not_an_image_is_refused() -> None:
    with pytest.raises(NotAnImage, match="not a picture"):
        decode_image(b"hello, this is text pretending to be a jpeg", LIMITS)
    with pytest.raises(NotAnImage, match="empty"):
        decode_image(b"", LIMITS)


def test_unsupported_format_is_refused() -> None:
    with pytest.raises(NotAnImage, match="not supported"):
        decode_image(pictures.encode(pictures.half_and_half(), "ICO"), LIMITS)


def test_truncated_jpeg_is_refused() -> None:
    data = pictures.big_jpeg((256, 256))
    with pytest.raises(DamagedImage, match="truncated or damaged"):
        decode_image(data[: len(data) // 3], LIMITS)


def test_file_over_the_byte_limit_is_refused_before_decoding() -> None:
    with pytest.raises(ImageTooLarge, match=r"limit is 0\.0 MB"):
        decode_image(b"\x00" * 2000, ImageLimits(max_bytes=1000))


def test_pixel_limit_is_checked_from_the_header() -> None:
    bomb = pictures.png_header(10_000, 6_000)  # 60 megapixels in a few hundred bytes
    assert len(bomb) < 2_000
    with pytest.raises(ImageTooLarge, match="10000×6000"):
        decode_image(bomb, LIMITS)


def test_absurd_header_is_refused() -> None:
    with pytest.raises(ImageTooLarge, match="too many pixels"):
        decode_image(pictures.png_header(65_000, 65_000, data=b""), LIMITS)


def test_large_jpeg_is_decoded_in_draft_mode_but_not_below_the_target() -> None:
    image = decode_image(pictures.big_jpeg((1280, 960)), LIMITS, target_size=224)
    assert image.size == (320, 240)  # 1/4 scale: the smallest that still covers 224
    full = decode_image(pictures.big_jpeg((1280, 960)), LIMITS)
    assert full.size == (1280, 960)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_phone_formats_are_read_upright_with_alpha_on_white(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90° clockwise
    rotated = decode_image(pictures.encode(pictures.half_and_half(), fmt, quality=95, exif=exif.tobytes()), LIMITS)
    assert rotated.size == (48, 64) and rotated.mode == "RGB"
    top, bottom = rotated.getpixel((24, 4)), rotated.getpixel((24, 60))
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60  # red on top, blue below
    clear = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    assert decode_image(pictures.encode(clear, fmt, quality=95), LIMITS).getpixel((16, 16)) >= (240, 240, 240)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_phone_formats_check_pixels_before_decoding(fmt: str) -> None:
    big = pictures.encode(Image.new("RGB", (400, 300)), fmt, quality=50)
    with pytest.raises(ImageTooLarge, match="400×300"):
        decode_image(big, ImageLimits(max_pixels=100_000))
