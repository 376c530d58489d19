"""JPEG decoding on the model's device: torchvision's decoder (nvjpeg on a GPU), batched, then
oriented, resized and cropped there with the model's own (tensor-capable) transforms.

The pixel limit and the EXIF orientation are still read from the header on the CPU, by Pillow,
before any pixel is decoded. The same code runs on the CPU, where torchvision decodes JPEG too:
that is how the suite checks it against the Pillow path without a GPU.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image, UnidentifiedImageError
from torchvision.io import ImageReadMode, decode_jpeg

from classifier.pictures.crop import aspect_trim_box
from classifier.pictures.images import DamagedImage, ImageLimits, too_many_pixels

# torchvision 0.29 marks its image codecs deprecated in favour of TorchCodec; they still work, and
# the warning would repeat for every batch.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)

_DIRECT_MODES = frozenset({"RGB", "L"})  # JPEGs the decoder turns into RGB exactly as Pillow does


@dataclass(frozen=True)
class JpegHeader:
    """What Pillow read from a JPEG's header: enough to refuse it or to decode it on the device."""

    data: bytes
    orientation: int


def read_jpeg_header(data: bytes, limits: ImageLimits) -> JpegHeader | None:
    """The header of a plain JPEG within the limits; None when the picture should take the Pillow
    path instead (not a JPEG, CMYK, or unreadable: Pillow gives the one-sentence answer)."""
    if len(data) > limits.max_bytes or not data.startswith(b"\xff\xd8"):
        return None
    try:
        image = Image.open(io.BytesIO(data), formats=("JPEG",))  # its factory opens MPO too
        width, height = image.size
        mode = image.mode
        orientation = int(image.getexif().get(0x0112, 1))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    if width * height > limits.max_pixels:
        raise too_many_pixels(width, height, limits)
    if mode not in _DIRECT_MODES or width < 1 or height < 1:
        return None
    return JpegHeader(data, orientation if 1 <= orientation <= 8 else 1)


def _orient(image: torch.Tensor, orientation: int) -> torch.Tensor:
    """Apply an EXIF orientation to a (3, H, W) tensor, as ImageOps.exif_transpose does."""
    if orientation in (2, 4, 5, 7):  # mirrored ones
        image = image.flip(-1)
    turns = {3: 2, 4: 2, 5: 1, 6: 3, 7: 3, 8: 1}.get(orientation, 0)  # quarter turns anticlockwise
    return torch.rot90(image, turns, dims=(-2, -1)) if turns else image


def _trim(image: torch.Tensor) -> torch.Tensor:
    """A very long strip cut to its centre, as the Pillow path does (crop.aspect_trim_box)."""
    box = aspect_trim_box(image.shape[-1], image.shape[-2])
    if box is None:
        return image
    left, top, right, bottom = box
    return image[..., top:bottom, left:right]


class DeviceJpegDecoder:
    """Decodes a batch of header-checked JPEGs on a device into model-ready (S, S, 3) uint8 pictures.

    `steps` are the model's resize and crop transforms (torchvision modules, which take tensors).
    Model thread only, like all torch work.
    """

    def __init__(self, device: torch.device, steps: Sequence[object]) -> None:
        self.device = device
        self.steps = [step for step in steps if isinstance(step, torch.nn.Module)]
        self.decoded = 0  # pictures decoded here: what tells this path from a silent fall back to Pillow

    def decode(self, headers: Sequence[JpegHeader]) -> list[torch.Tensor | DamagedImage]:
        """One picture (H, W, 3) uint8 on the device per header, or the error for that one alone."""
        raw = [torch.frombuffer(bytearray(h.data), dtype=torch.uint8) for h in headers]
        try:
            decoded: list[torch.Tensor | DamagedImage] = list(
                decode_jpeg(raw, mode=ImageReadMode.RGB, device=self.device))
        except RuntimeError:  # the batch decoder gives no partial results: find the bad one
            decoded = [self._decode_one(one) for one in raw]
        self.decoded += sum(isinstance(image, torch.Tensor) for image in decoded)
        return [self._prepare(image, header.orientation) if isinstance(image, torch.Tensor) else image
                for image, header in zip(decoded, headers, strict=True)]

    def _decode_one(self, raw: torch.Tensor) -> torch.Tensor | DamagedImage:
        try:
            return decode_jpeg(raw, mode=ImageReadMode.RGB, device=self.device)
        except RuntimeError:
            return DamagedImage("The picture is truncated or damaged and cannot be read.")

    def _prepare(self, image: torch.Tensor, orientation: int) -> torch.Tensor:
        image = _trim(_orient(image, orientation))
        for step in self.steps:
            image = step(image)
        return image.permute(1, 2, 0).contiguous()
