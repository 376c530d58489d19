"""Pictures made on the spot: ordinary, odd and hostile files for decoding tests."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

import classifier.pictures.images  # noqa: F401  (registers the HEIF plugin, so HEIC can be written here)


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


# Videos: GIFs as Telegram sends them (MP4), videos, video notes, video stickers (WebM)

def clip(frames: list[Image.Image], fmt: str = "mp4", codec: str = "libx264", keyframe_every: int = 0,
         rate: int = 10, faststart: bool = False, fragmented: bool = False) -> bytes:
    """A video of the given frames (all the same size, even sides); keyframe_every=0: the codec's default.
    faststart: the MP4's index before its data, as streamed files have it (FFmpeg writes it at the end);
    fragmented: an empty index, then a fragment (moof, mdat) per keyframe, as live streams have it."""
    import tempfile

    import av  # here, so that picture-only tests do not load FFmpeg

    with tempfile.TemporaryDirectory() as folder:  # faststart rewrites the file: it needs a real one
        path = f"{folder}/clip.{fmt}"
        flags = "faststart" if faststart else "frag_keyframe+empty_moov" if fragmented else ""
        _encode_clip(av, path, frames, fmt, codec, keyframe_every, rate, flags)
        with open(path, "rb") as written:
            return written.read()


def _encode_clip(av: Any, path: str, frames: list[Image.Image], fmt: str, codec: str, keyframe_every: int,
                 rate: int, movflags: str) -> None:
    container_options = {"movflags": movflags} if movflags else {}
    with av.open(path, "w", format=fmt, container_options=container_options) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.width, stream.height = frames[0].size
        stream.pix_fmt = "yuv420p"
        options = {"crf": "10"} if codec == "libx264" else {}
        if keyframe_every:
            options["g"] = str(keyframe_every)
            if codec == "libx264":
                options["x264-params"] = f"keyint={keyframe_every}:min-keyint={keyframe_every}:scenecut=0"
        stream.options = options
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_image(image.convert("RGB"))):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def story(scenes: list[Image.Image], frames_each: int = 5, **options: object) -> bytes:
    """A clip that shows each scene for frames_each frames, each scene starting on a keyframe."""
    frames = [scene for scene in scenes for _ in range(frames_each)]
    return clip(frames, keyframe_every=frames_each, **options)  # type: ignore[arg-type]


def _exp_golomb(value: int) -> str:
    bits = f"{value + 1:b}"
    return "0" * (len(bits) - 1) + bits


def _h264_sps_sized(nal: bytes, width: int, height: int) -> bytes:
    """A baseline-profile H.264 sequence parameter set with its picture size changed (in macroblocks)."""
    bits = "".join(f"{b:08b}" for b in nal[1:].replace(b"\x00\x00\x03", b"\x00\x00"))
    at = 24

    def read() -> int:
        nonlocal at
        zeros = bits.index("1", at) - at
        value = int(bits[at + zeros:at + 2 * zeros + 1], 2) - 1
        at += 2 * zeros + 1
        return value

    assert int(bits[:8], 2) == 66, "baseline profile only"
    out = bits[:24] + _exp_golomb(read()) + _exp_golomb(read())  # sps id, log2_max_frame_num
    order = read()
    out += _exp_golomb(order) + (_exp_golomb(read()) if order == 0 else "")
    out += _exp_golomb(read()) + bits[at]  # reference frames, gaps allowed
    at += 1
    read(), read()  # the old width and height
    out += _exp_golomb(-(-width // 16) - 1) + _exp_golomb(-(-height // 16) - 1) + bits[at:].rstrip("0")
    out += "0" * (-len(out) % 8)
    raw = int(out, 2).to_bytes(len(out) // 8, "big")
    escaped, zeros = bytearray(), 0
    for byte in raw:  # emulation prevention: no 00 00 0x inside a NAL unit
        if zeros >= 2 and byte <= 3:
            escaped.append(3)
            zeros = 0
        escaped.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return nal[:1] + bytes(escaped)


def mp4_claiming(width: int, height: int) -> bytes:
    """A small H.264 MP4 whose headers (the sample description and the sequence parameter set)
    claim width×height; its one frame holds 64×48 pixels' worth of data."""
    import av

    frames = [Image.new("RGB", (64, 48), (200, 120, 40))]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"profile": "baseline"}
        for packet in [*stream.encode(av.VideoFrame.from_image(frames[0])), *stream.encode(None)]:
            out.mux(packet)
    data = buffer.getvalue()
    config = data.index(b"avcC")
    sample_entry = data.rindex(b"avc1", 0, config) + 28  # width and height, 16 bits each
    data = data[:sample_entry] + struct.pack(">HH", min(width, 65535), min(height, 65535)) + data[sample_entry + 4:]
    box_size = struct.unpack(">I", data[config - 4:config])[0]
    box = data[config - 4:config - 4 + box_size]
    sps_length = struct.unpack(">H", box[14:16])[0]
    sps = _h264_sps_sized(box[16:16 + sps_length], width, height)
    new_box = box[4:14] + struct.pack(">H", len(sps)) + sps + box[16 + sps_length:]
    new_box = struct.pack(">I", len(new_box) + 4) + new_box
    grown = len(new_box) - len(box)
    for parent in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"):  # mdat comes first: no offsets move
        at = data.rindex(parent, 0, config) - 4
        data = data[:at] + struct.pack(">I", struct.unpack(">I", data[at:at + 4])[0] + grown) + data[at + 4:]
    return data[:config - 4] + new_box + data[config - 4 + box_size:]


def turned_clockwise(data: bytes) -> bytes:
    """The MP4 with its track's display matrix saying: show it turned 90° clockwise (a phone held upright)."""
    at = data.index(b"tkhd") + 4 + 40  # version, flags, times, ids, duration, layer, volume: the matrix follows
    one = 0x10000
    return data[:at] + struct.pack(">9i", 0, one, 0, -one, 0, 0, 0, 0, 0x40000000) + data[at + 36:]


def sound_only_mp4() -> bytes:
    """An MP4 holding a tenth of a second of silence and no video."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def mp4_declaring(samples: int, sample_size: int = 500) -> bytes:
    """A small MP4 whose sample table declares `samples` samples of sample_size bytes each."""
    data = story([Image.new("RGB", (64, 48), colour) for colour in ((255, 0, 0), (0, 0, 255))], faststart=True)
    table = data.index(b"stsz") - 4  # size, type, version and flags, then the sample size and count
    return data[:table + 12] + struct.pack(">II", sample_size, samples) + data[table + 20:]


def mp4_fragment_declaring(samples: int) -> bytes:
    """A fragmented MP4 whose first fragment's run (trun) declares `samples` samples with no
    per-sample fields: a few bytes each would have held, none here."""
    data = story([Image.new("RGB", (64, 48), colour) for colour in ((255, 0, 0), (0, 0, 255))], fragmented=True)
    run = data.index(b"trun") + 4  # version and flags, then the count
    return data[:run] + struct.pack(">II", 0x000001, samples) + data[run + 8:]


def mp4_compressed_header(megabytes: int) -> bytes:
    """An MP4 whose movie header is compressed (cmov, zlib) and inflates to `megabytes` MB of nothing."""
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    size = megabytes * 2**20
    squeeze = zlib.compressobj(9)
    packed = squeeze.compress(struct.pack(">I4s", size, b"free"))
    zeros = bytes(2**20)
    packed += b"".join(squeeze.compress(zeros) for _ in range(megabytes)) + squeeze.flush()
    header = box(b"cmov", box(b"dcom", b"zlib") + box(b"cmvd", struct.pack(">I", size + 8) + packed))
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41") + box(b"moov", header)
