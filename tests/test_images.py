from __future__ import annotations

import logging

import pytest
from PIL import Image

from classifier import DamagedImage, ImageError, ImageLimits, ImageTooLarge, NotAnImage, decode_image
from classifier.pictures.images import to_rgb
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


FORMATS = "JPEG, PNG, WEBP, GIF, BMP, TIFF, HEIC, AVIF"


def refusal(data: bytes, limits: ImageLimits = LIMITS, target_size: int | None = None) -> str:
    with pytest.raises(ImageError) as refused:
        decode_image(data, limits, target_size)
    return str(refused.value)


def test_each_refusal_is_its_whole_sentence(caplog: pytest.LogCaptureFixture) -> None:
    assert refusal(b"") == "The file is empty."
    assert refusal(b"hello, this is text pretending to be a jpeg") == (
        f"This file is not a picture I can read; send a {FORMATS} image.")
    assert refusal(pictures.encode(pictures.half_and_half(), "ICO")) == (
        f"ICO pictures are not supported; send a {FORMATS} image.")
    assert refusal(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n") == (
        f"EPS pictures are not supported; send a {FORMATS} image.")
    # A broken file of an accepted format is not called unsupported.
    assert "not supported" not in refusal(b"\x89PNG\r\n\x1a\n this is not really a png")
    limit = int(2.5 * 2**20)
    assert refusal(b"\x00" * 2_694_840, ImageLimits(max_bytes=limit)) == "The file is 2.6 MB; the limit is 2.5 MB."
    assert refusal(pictures.png_header(1300, 1200), ImageLimits(max_pixels=1_500_000)) == (
        "The picture is 1300×1200 (1.6 megapixels); the limit is 1.5 megapixels.")
    assert refusal(pictures.png_header(1550, 1000), ImageLimits(max_pixels=1_500_000)) == (
        "The picture is 1550×1000 (1.6 megapixels); the limit is 1.5 megapixels.")  # millions, rounded
    assert refusal(pictures.png_header(10_000, 6_000)) == (
        "The picture is 10000×6000 (60.0 megapixels); the limit is 50 megapixels.")
    assert refusal(pictures.png_header(65_000, 65_000, data=b"")) == (
        "The picture has too many pixels; the limit is 50 megapixels.")
    assert refusal(pictures.png_header(65_000, 65_000, data=b""), ImageLimits(max_pixels=2_500_000)) == (
        "The picture has too many pixels; the limit is 2.5 megapixels.")
    data = pictures.big_jpeg((256, 256))
    with caplog.at_level(logging.DEBUG, logger="classifier.pictures.images"):
        assert refusal(data[: len(data) // 3]) == "The picture is truncated or damaged and cannot be read."
    [record] = caplog.records
    assert record.getMessage() == "Could not decode a picture" and record.exc_info is not None


def test_limits_are_inclusive() -> None:
    # Exactly at the byte limit: not refused for its size (these bytes are simply not a picture).
    assert "not a picture" in refusal(b"\x00" * 1000, ImageLimits(max_bytes=1000))
    exactly = pictures.encode(Image.new("RGB", (1000, 1500), (10, 20, 30)), "PNG")
    assert decode_image(exactly, ImageLimits(max_pixels=1_500_000)).size == (1000, 1500)


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (7, 1)])
def test_one_pixel_wide_pictures_decode(size: tuple[int, int]) -> None:
    assert decode_image(pictures.encode(Image.new("RGB", size, (200, 0, 0)), "PNG"), LIMITS).size == size


def test_draft_for_jpegs_and_whole_factors_for_the_rest_twice_the_target() -> None:
    def jpeg(side: int) -> bytes:
        return pictures.encode(pictures.half_and_half((side, side)), "JPEG")

    assert decode_image(jpeg(128), LIMITS, target_size=64).size == (64, 64)  # 2x: decoded at half scale
    assert decode_image(jpeg(127), LIMITS, target_size=64).size == (127, 127)  # under 2x: whole
    assert decode_image(jpeg(190), LIMITS, target_size=64).size == (95, 95)
    png = pictures.encode(pictures.half_and_half((256, 256)), "PNG")
    # Draft is a JPEG feature; other formats are reduced by a whole factor, never under twice the target.
    assert decode_image(png, LIMITS, target_size=64).size == (128, 128)
    assert decode_image(pictures.encode(pictures.half_and_half((255, 300)), "PNG"), LIMITS, 64).size == (255, 300)
    assert decode_image(pictures.encode(pictures.half_and_half((640, 1000)), "PNG"), LIMITS, 64).size == (128, 200)


@pytest.mark.parametrize("mode", ["I;16", "I;16L", "I;16B", "I;16N", "I"])
def test_16_bit_pictures_keep_their_high_byte(mode: str) -> None:
    image = Image.new(mode, (3, 1))
    for x, value in enumerate((0, 32768, 65535)):
        image.putpixel((x, 0), value)
    rgb = to_rgb(image)
    assert rgb.mode == "RGB"
    assert [pixel(rgb, (x, 0)) for x in range(3)] == [(0, 0, 0), (128, 128, 128), (255, 255, 255)]


def test_32_bit_values_past_16_bits_are_white_not_wrapped() -> None:
    image = Image.new("I", (1, 1), 70_000)
    assert pixel(to_rgb(image), (0, 0)) == (255, 255, 255)


def test_float_pictures_are_stretched_to_the_full_range() -> None:
    image = Image.new("F", (3, 1))
    for x, value in enumerate((10.0, 15.0, 20.0)):
        image.putpixel((x, 0), value)
    assert [pixel(to_rgb(image), (x, 0)) for x in range(3)] == [(0, 0, 0), (127, 127, 127), (255, 255, 255)]
    flat = Image.new("F", (2, 2), 7.5)  # one value: black, not a division by zero
    assert pixel(to_rgb(flat), (1, 1)) == (0, 0, 0)


@pytest.mark.parametrize(("mode", "clear"), [("LA", (0, 0)), ("La", (0, 0)), ("RGBA", (0, 0, 0, 0)),
                                             ("RGBa", (0, 0, 0, 0)), ("PA", (0, 0))])
def test_every_mode_with_alpha_is_composited_onto_white(mode: str, clear: tuple[int, ...]) -> None:
    image = Image.new(mode, (2, 1), clear)
    if mode == "PA":
        image.putpalette([0, 0, 0] * 256)
    rgb = to_rgb(image)
    assert rgb.mode == "RGB" and pixel(rgb, (0, 0)) == (255, 255, 255)


def test_half_transparent_red_over_white_is_pink() -> None:
    red, green, blue = pixel(to_rgb(Image.new("RGBA", (1, 1), (255, 0, 0, 128))), (0, 0))
    assert red == 255 and 120 <= green <= 135 and green == blue
