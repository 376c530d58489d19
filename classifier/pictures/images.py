"""Safe, fast image decoding: from untrusted bytes to an RGB picture the model can read.

Pictures go through Pillow's plugins for the accepted formats only, each within the decode-memory
budget (classifier/pictures/budget.py) and shrunk as early as its format allows; MP4, MOV, WebM and
MKV files, told by their magic bytes, give one frame through classifier/pictures/video.py.
"""

from __future__ import annotations

import io
import logging
import warnings

import pillow_heif
from PIL import ExifTags, Image, UnidentifiedImageError

from classifier.messages import whole_if_possible
from classifier.pictures.budget import DecodeBudget
from classifier.pictures.footprint import plan_shrink, worst_case_bytes
from classifier.pictures.refusals import (
    FORMAT_NAMES,
    DamagedImage,
    ImageError,
    ImageLimits,
    ImageTooLarge,
    NotAnImage,
)
from classifier.pictures.rgb import shrink_to_rgb, to_rgb
from classifier.pictures.video import container_format, decode_frame

logger = logging.getLogger(__name__)

pillow_heif.register_heif_opener()  # HEIC/HEIF, what iPhones send as files
Image.init()  # load every plugin, so that the accepted ones below are registered
# Pillow allocates a picture in blocks of this size (16 MB by default). glibc keeps freed chunks under
# 32 MB in the freeing thread's arena, so each decode thread kept a big picture's memory after it was
# done (six 7000×7000 pictures through four threads, one at a time: 772 MB at the peak instead of
# 200). Blocks of 64 MB are mapped and unmapped on their own: freed, they go back to the system.
Image.core.set_block_size(64 * 2**20)
# Pillow warns (UserWarning) about corrupt metadata in user files; that is the files' business, not the log's.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")

# The only Pillow plugins that ever see user bytes (Image.open(..., formats=...)): no other
# parser runs on them, and an EPS never reaches Ghostscript. HEIF is pillow-heif's plugin.
ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "AVIF", "HEIF")
_OPEN_FORMATS = tuple(name for name in ACCEPTED_FORMATS if name in Image.OPEN)
__all__ = ["ACCEPTED_FORMATS", "DamagedImage", "ImageError", "ImageLimits", "ImageTooLarge", "NotAnImage",
           "decode_image", "to_rgb", "too_many_pixels"]


def _megabytes(n: int) -> float:
    return round(n / 2**20, 1)


def too_many_pixels(width: int, height: int, limits: ImageLimits) -> ImageTooLarge:
    """The refusal of a picture whose header declares more pixels than the limit."""
    return ImageTooLarge("The picture is {width}×{height} ({megapixels} megapixels); the limit is {limit} megapixels.",
                         width=width, height=height, megapixels=round(width * height / 1e6, 1),
                         limit=whole_if_possible(limits.max_pixels / 1e6))


def decode_image(data: bytes, limits: ImageLimits, target_size: int | None = None,
                 budget: DecodeBudget | None = None, trim: bool = True) -> Image.Image:
    """Decode untrusted bytes into an upright RGB image, or raise ImageError; without trim, a very long
    strip keeps its whole length (a picture to show, not the model's input).

    Limits are checked from the header before pixels are decoded, and the picture's worst-case
    memory (classifier/pictures/footprint.py) is reserved from budget (shared by the decode
    threads; by default one of its own of limits.max_decode_bytes) before it is decoded: a picture
    that could never fit is refused. With target_size, pictures shrink as early as they can, never
    below twice target_size on the short side: JPEGs are decoded at a reduced scale (draft mode,
    never below target_size), others reduced by a whole factor a strip at a time while they are
    converted to RGB, and very long strips trimmed to their centre (classifier/pictures/crop.py).
    """
    if len(data) > limits.max_bytes:
        raise ImageTooLarge("The file is {size} MB; the limit is {limit} MB.",
                            size=_megabytes(len(data)), limit=_megabytes(limits.max_bytes))
    if not data:
        raise NotAnImage("The file is empty.")
    try:
        return _decode(data, limits, target_size, budget or DecodeBudget(limits.max_decode_bytes), trim)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("The picture has too many pixels; the limit is {limit} megapixels.",
                            limit=whole_if_possible(limits.max_pixels / 1e6)) from None
    except Exception as exc:  # whatever a plugin or codec throws on hostile bytes: one sentence
        logger.debug("Could not decode a picture", exc_info=exc)
        raise DamagedImage("The picture is truncated or damaged and cannot be read.") from exc


def _decode(data: bytes, limits: ImageLimits, target_size: int | None, budget: DecodeBudget,
            trim: bool) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError:
        if container_format(data) is not None:
            return decode_frame(data, limits)
        known = _refused_format(data)
        if known:
            raise NotAnImage("{format} pictures are not supported; send a {formats} image.",
                             format=known, formats=FORMAT_NAMES) from None
        raise NotAnImage("This file is not a picture I can read; send a {formats} image.",
                         formats=FORMAT_NAMES) from None
    width, height = full_size = image.size
    if width < 1 or height < 1:
        raise DamagedImage("The picture has no pixels.")
    if width * height > limits.max_pixels:
        raise too_many_pixels(width, height, limits)
    if target_size and image.format == "JPEG" and min(width, height) >= 2 * target_size:
        image.draft("RGB", (target_size, target_size))
    shrink = plan_shrink(image.size, target_size, trim)
    needed = worst_case_bytes(image, data, full_size, shrink)
    if not budget.fits(needed):
        raise ImageTooLarge("The picture is {width}×{height} and would take {needed} MB of memory to read; "
                            "the limit is {limit} MB.", width=width, height=height,
                            needed=round(needed / 2**20), limit=round(budget.total / 2**20))
    with budget.reserved(needed):
        image.load()
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        picture = shrink_to_rgb(image, shrink, orientation)
        if picture is not image:
            image.close()  # its pixels freed before the reservation is given back
    return picture


def _refused_format(data: bytes) -> str | None:
    """The name of a format Pillow knows but we refuse, from its magic bytes alone: each plugin's
    accept() only compares a prefix, so no parser of a refused format ever runs."""
    prefix = data[:64]
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        if name in _OPEN_FORMATS or accept is None:
            continue
        try:
            if accept(prefix):
                return name
        except Exception:  # a prefix check that chokes on a short prefix: no verdict
            continue
    return None
