"""A fuzz corpus made from a fixed seed: valid pictures of every accepted format, mutated.

Mutations: bit flips, truncation at every structural boundary (PNG chunks, JPEG segments) and
at random places, repeated and reordered chunks or segments, header fields set to 0, 1 and
their maximum; plus files in formats Pillow opens that toonclip refuses (DDS with unusual pixel
formats, ICO, TGA, PSD, JPEG 2000, EPS, PCX, SGI), plain and mutated; plus videos (H.264 MP4s with
the index last, first and in fragments, VP9 and VP8 WebMs): truncated at every box and at random, box sizes and
table counts set to 0, 1 and their maximum, boxes repeated and swapped, frame sizes at 0, 1 and
65535, and the same bit flips.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

from PIL import Image

from tests.pictures import encode, story

SEED = 20261128
ACCEPTED = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF")
REFUSED = ("ICO", "TGA", "PCX", "SGI", "EPS", "JPEG2000", "DDS")


def picture(rng: random.Random, size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A small picture with some structure, so every codec has real work to do."""
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))  # type: ignore[arg-type]
    for _ in range(4):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, min(size[0], x0 + rng.randrange(4, 20)), min(size[1], y0 + rng.randrange(4, 20)))
        image.paste(tuple(rng.randrange(256) for _ in range(3)), box)  # type: ignore[arg-type]
    return image


def valid(fmt: str, rng: random.Random) -> bytes:
    image = picture(rng)
    if fmt == "GIF":
        return encode(image.convert("P"), "GIF")
    if fmt in ("HEIF", "AVIF", "JPEG", "WEBP"):
        return encode(image, fmt, quality=80)
    if fmt == "PNG" and rng.random() < 0.5:
        return encode(image.convert("RGBA"), "PNG")
    return encode(image, fmt)


def png_chunks(data: bytes) -> list[bytes] | None:
    """The PNG's chunks (length, type, data, CRC each), or None when it is not a PNG."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    chunks, at = [], 8
    while at + 12 <= len(data):
        length = struct.unpack(">I", data[at:at + 4])[0]
        chunks.append(data[at:at + 12 + length])
        at += 12 + length
    return chunks


def jpeg_segments(data: bytes) -> list[bytes] | None:
    """The JPEG split before each marker up to the scan, then the scan as one piece."""
    if not data.startswith(b"\xff\xd8"):
        return None
    segments, at = [data[:2]], 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            segments.append(data[at:])
            return segments
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        segments.append(data[at:at + 2 + length])
        at += 2 + length
    segments.append(data[at:])
    return segments


def structural(data: bytes, rng: random.Random) -> Iterator[bytes]:
    """Truncations at every boundary, repeated and swapped pieces, header fields at 0, 1, max."""
    pieces = png_chunks(data)
    prefix = data[:8] if pieces is not None else b""
    if pieces is None:
        pieces = jpeg_segments(data)
    if pieces is None:
        return
    for cut in range(1, len(pieces)):
        yield prefix + b"".join(pieces[:cut])
    for i in range(len(pieces)):
        yield prefix + b"".join([*pieces[:i + 1], pieces[i], *pieces[i + 1:]])  # repeated
    for _ in range(3):
        shuffled = pieces[:]
        i, j = rng.randrange(len(shuffled)), rng.randrange(len(shuffled))
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
        yield prefix + b"".join(shuffled)
    if data.startswith(b"\x89PNG"):  # IHDR width and height at 16..24
        for value in (0, 1, 0xFFFFFFFF, 0x7FFFFFFF):
            for offset in (16, 20):
                yield data[:offset] + struct.pack(">I", value) + data[offset + 4:]
    else:  # the SOF segment's height and width
        sof = next((s for s in pieces if s[:2] in (b"\xff\xc0", b"\xff\xc2")), None)
        if sof is not None:
            at = data.index(sof)
            for value in (0, 1, 0xFFFF):
                for offset in (5, 7):
                    yield data[:at + offset] + struct.pack(">H", value) + data[at + offset + 2:]


def generic(data: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Bit flips, random truncations, header bytes set to 0x00 or 0xFF."""
    for _ in range(count):
        kind = rng.randrange(4)
        mutated = bytearray(data)
        if kind == 0:
            for _ in range(rng.randrange(1, 9)):
                at = rng.randrange(len(mutated))
                mutated[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            mutated = mutated[:rng.randrange(1, len(mutated))]
        elif kind == 2:
            at = rng.randrange(min(64, len(mutated)))
            mutated[at:at + rng.randrange(1, 5)] = bytes([rng.choice((0, 0xFF))]) * rng.randrange(1, 5)
        else:
            at = rng.randrange(len(mutated))
            mutated[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 32)))
        yield bytes(mutated)


def psd(width: int = 40, height: int = 30) -> bytes:
    """A minimal Photoshop file: header, empty sections, raw RGB image data."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + b"\x80" * (3 * width * height)


def dds(fourcc: bytes) -> bytes:
    """A DDS header with the given pixel format code and a little data after it."""
    pixel_format = struct.pack("<II4sIIIII", 32, 0x4, fourcc, 0, 0, 0, 0, 0)
    header = struct.pack("<IIIIIII44x", 124, 0x1007, 16, 16, 256, 0, 1) + pixel_format + bytes(20)
    extra = struct.pack("<IIIII", 99, 3, 0, 1, 0) if fourcc == b"DX10" else b""
    return b"DDS " + header + extra + bytes(256)


def refused(rng: random.Random) -> Iterator[tuple[str, bytes]]:
    for fmt in REFUSED:
        data = encode(picture(rng), fmt)
        yield f"refused-{fmt.lower()}", data
        for i, mutated in enumerate(generic(data, rng, 8)):
            yield f"refused-{fmt.lower()}-{i}", mutated
    yield "refused-psd", psd()
    odd_codes = (b"DX10", b"ATI1", b"ATI2", b"BC4U", b"BC5S", b"DXT2", b"UYVY", bytes(4), b"\x71\x00\x00\x00")
    for fourcc in odd_codes:
        yield f"refused-dds-{fourcc.hex()}", dds(fourcc)


MP4_CONTAINERS = (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex", b"moof",
                  b"traf")
# An entry count after the version and flags.
MP4_TABLES = (b"stts", b"stss", b"stsc", b"stsz", b"stco", b"co64", b"ctts", b"elst", b"trun")


def mp4_boxes(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, bytes]]:
    """(offset, size, type) of every box, depth first; stops at the first size that does not fit."""
    end = len(data) if end is None else end
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if size < 8 or at + size > end:
            return
        yield at, size, kind
        if kind in MP4_CONTAINERS:
            yield from mp4_boxes(data, at + 8, at + size)
        at += size


def mp4_structural(data: bytes, rng: random.Random) -> Iterator[bytes]:
    """Cuts at every box, sizes and counts at 0, 1 and their maximum, repeated and swapped top-level boxes,
    the sample entry's width and height at 0, 1 and 65535."""
    boxes = list(mp4_boxes(data))
    for at, size, _ in boxes:
        yield data[:at]
        yield data[:at + size // 2]
        for value in (0, 1, 8, 0xFFFFFFFF):
            yield data[:at] + struct.pack(">I", value) + data[at + 4:]
    for at, _, kind in boxes:
        if kind in MP4_TABLES:
            for value in (0, 1, 0x7FFFFFFF, 0xFFFFFFFF):
                yield data[:at + 12] + struct.pack(">I", value) + data[at + 16:]
        if kind == b"stsz":  # a fixed sample size, and counts up to far more samples than the file holds
            for count in (1, 1000, 5_000_000, 0x7FFFFFFF):
                yield data[:at + 12] + struct.pack(">II", 500, count) + data[at + 20:]
    top = [data[at:at + size] for at, size, _ in mp4_boxes(data) if at + size <= len(data)
           and not any(outer < at < outer + outer_size for outer, outer_size, _ in boxes if outer != at)]
    for i in range(len(top)):
        yield b"".join([*top[:i + 1], top[i], *top[i + 1:]])
    for _ in range(3):
        shuffled = top[:]
        i, j = rng.randrange(len(shuffled)), rng.randrange(len(shuffled))
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
        yield b"".join(shuffled)
    entry = data.find(b"avc1", data.find(b"stsd"))
    if entry > 0:
        for value in (0, 1, 0xFFFF):
            for offset in (28, 30):
                yield data[:entry + offset] + struct.pack(">H", value) + data[entry + offset + 2:]


def videos(rng: random.Random, per_video: int) -> Iterator[tuple[str, bytes]]:
    """Valid short clips, then their mutations."""
    scenes = [picture(rng, (48, 32)) for _ in range(3)]
    made = {
        "mp4": story(scenes, frames_each=4),
        "mp4-faststart": story(scenes, frames_each=4, faststart=True),
        "mp4-fragmented": story(scenes, frames_each=4, fragmented=True),
        "webm-vp9": story(scenes, frames_each=4, fmt="webm", codec="libvpx-vp9"),
        "webm-vp8": story(scenes, frames_each=4, fmt="webm", codec="libvpx"),
    }
    for name, data in made.items():
        yield f"{name}-valid", data
        count = 0
        if name.startswith("mp4"):
            for count, mutated in enumerate(mp4_structural(data, rng), start=1):
                yield f"{name}-structural-{count}", mutated
        for i, mutated in enumerate(generic(data, rng, max(per_video - count, per_video // 2))):
            yield f"{name}-mutated-{i}", mutated


def corpus(per_format: int = 250) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) for each file; the same files on every run."""
    rng = random.Random(SEED)
    for fmt in ACCEPTED:
        data = valid(fmt, rng)
        yield f"{fmt.lower()}-valid", data
        made = 0
        for made, mutated in enumerate(structural(data, rng), start=1):
            yield f"{fmt.lower()}-structural-{made}", mutated
        for i, mutated in enumerate(generic(data, rng, max(0, per_format - made))):
            yield f"{fmt.lower()}-mutated-{i}", mutated
    yield from refused(rng)
    yield from videos(rng, per_format // 2)
