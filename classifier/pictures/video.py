"""One picture from a video file (MP4, MOV, WebM, MKV): a keyframe near the middle, read within limits.

GIFs reach Telegram bots as MP4s, videos and round video notes as MP4s, video stickers as WebMs.
PyAV (FFmpeg's demuxers and decoders, shipped in its wheels) reads them. What a file may cost:

- its size, checked by the caller before it is downloaded or read (ImageLimits.max_bytes);
- its pixels, read from the stream's header before any frame is decoded. FFmpeg's probing, which
  fills in the stream's parameters, is told to skip every frame (`skip_frame=all`: H.264, HEVC,
  MPEG-4, VP8 and AV1 then read headers only; VP9 still decodes its first frame to learn its pixel
  format) and to refuse any frame over the limit before allocating it (`max_pixels`). The decoder
  opened afterwards has the same `max_pixels`, whatever the bitstream says after the header;
- one frame: the keyframe at or before the middle (the first when the middle cannot be reached),
  sent to the decoder alone and flushed out, so no other frame is decoded;
- VIDEO_SECONDS of wall time, checked between packets;
- its index: FFmpeg's MP4 reader makes an index entry for every sample the sample tables (stsz,
  stz2) and fragment runs (trun) declare, before anything else runs, so a few bytes declaring 50
  million samples would cost 600 MB; and it inflates a compressed movie header (cmov) to whatever
  size the header states. An MP4 declaring more than MAX_SAMPLES samples, or with a compressed
  header (a QuickTime feature of the 1990s), is refused before FFmpeg opens it.

Only the MP4 and Matroska demuxers ever see the bytes, chosen from the magic bytes (never FFmpeg's
guess, which would let a playlist demuxer open other files), and only the decoders of the codecs
phones and Telegram produce.
"""

from __future__ import annotations

import io
import logging
import struct
import time
from collections.abc import Iterator

import av
import av.error
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from classifier.messages import whole_if_possible
from classifier.pictures.refusals import FORMAT_NAMES, DamagedImage, ImageError, ImageLimits, ImageTooLarge, NotAnImage

logger = logging.getLogger(__name__)

VIDEO_SECONDS = 2.0  # wall time for one video, from opening it to its picture
MAX_SAMPLES = 1_000_000  # frames and sound packets an MP4 may declare: an hour at 60 fps is 216,000
# The only decoders that run (FFmpeg's names; AV1 is dav1d's). Telegram sends H.264 (GIFs, videos,
# video notes) and VP9 (video stickers); phones record H.264 and HEVC.
DECODERS = frozenset({"h264", "hevc", "vp8", "vp9", "libdav1d", "av1", "mpeg4"})
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM
# ISO base media brands that are pictures (HEIC, AVIF): Pillow's plugins read those.
_PICTURE_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis")


def container_format(data: bytes) -> str | None:
    """The demuxer for data from its magic bytes: 'mp4', 'matroska', or None when it is no video."""
    if data[:4] == _EBML:
        return "matroska"
    if data[4:8] == b"ftyp" and data[8:12] not in _PICTURE_BRANDS:
        return "mp4"
    return None


def decode_frame(data: bytes, limits: ImageLimits, seconds: float = VIDEO_SECONDS) -> Image.Image:
    """One RGB picture from a video file, or raise ImageError (one sentence for the user)."""
    demuxer = container_format(data)
    if demuxer is None:
        raise NotAnImage("This file is not a picture I can read; send a {formats} image.", formats=FORMAT_NAMES)
    if demuxer == "mp4" and not _index_is_small(data):
        raise _damaged()
    deadline = time.monotonic() + seconds
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer, options=_probe_options(limits),
                     timeout=seconds) as container:
            frame = _one_frame(container, limits, deadline)
            picture = frame.to_image()
            rotation = frame.rotation
    except ImageError:
        raise
    except av.error.ExitError as exc:  # FFmpeg's probing, interrupted by the timeout
        raise _too_slow() from exc
    except (av.error.FFmpegError, EOFError, ValueError, OverflowError, MemoryError) as exc:
        logger.debug("Could not decode a video", exc_info=exc)
        raise _damaged() from exc
    if rotation in (90, -90, 180, -180):  # the display matrix of a phone held upright
        picture = picture.rotate(rotation, expand=True)
    return picture


def _probe_options(limits: ImageLimits) -> dict[str, str]:
    """What FFmpeg's stream probing may do: read headers, decode nothing it can skip, nothing over the limit."""
    return {"skip_frame": "all", "max_pixels": str(limits.max_pixels)}


def _one_frame(container: InputContainer, limits: ImageLimits, deadline: float) -> VideoFrame:
    if not container.streams.video:
        raise NotAnImage("The file has no video in it, so there is nothing to look at.")
    stream = container.streams.video[0]
    codec = stream.codec_context
    if codec is None:  # a codec FFmpeg does not know: a damaged or forged header
        raise _damaged()
    if codec.name not in DECODERS:
        raise NotAnImage("{codec} videos are not supported; send an H.264, HEVC, VP8, VP9 or AV1 video.",
                         codec=codec.name.upper())
    width, height = codec.width, codec.height
    if width < 1 or height < 1:
        raise _damaged()
    if width * height > limits.max_pixels:
        raise _too_many_pixels(width, height, limits)
    codec.options = {"max_pixels": str(limits.max_pixels)}
    codec.thread_count = 1  # one frame: threads would only add start-up cost and delay
    packet = _keyframe_near_middle(container, stream, deadline)
    frames = [*codec.decode(packet), *codec.decode(None)]  # this packet alone, then flushed out
    if not frames:
        raise _damaged()
    frame = frames[0]
    if frame.width * frame.height > limits.max_pixels:  # the decoder refuses them too; this names the size
        raise _too_many_pixels(frame.width, frame.height, limits)
    return frame


def _keyframe_near_middle(container: InputContainer, stream: VideoStream, deadline: float) -> av.Packet:
    """The keyframe at or before the middle of the stream; the first keyframe when there is no
    known duration, the seek fails, or nothing can be read after it (a truncated file)."""
    middle = _middle(container, stream)
    if middle:
        try:
            container.seek(middle, stream=stream, backward=True)
            found = next(_keyframes(container, stream, deadline), None)
            if found is not None:
                return found
        except av.error.FFmpegError as exc:
            logger.debug("Seeking to the middle of a video failed; reading its first keyframe", exc_info=exc)
        container.seek(_start(stream), stream=stream, backward=True)
    found = next(_keyframes(container, stream, deadline), None)
    if found is None:
        raise _damaged()
    return found


def _keyframes(container: InputContainer, stream: VideoStream, deadline: float) -> Iterator[av.Packet]:
    """The stream's keyframe packets from where the container stands; other packets are skipped unread."""
    for packet in container.demux(stream):
        if time.monotonic() > deadline:
            raise _too_slow()
        if packet.size and packet.is_keyframe:
            yield packet


def _start(stream: VideoStream) -> int:
    return stream.start_time if stream.start_time is not None else 0


def _middle(container: InputContainer, stream: VideoStream) -> int | None:
    """The middle of the stream in its time base, or None when the duration is unknown."""
    if stream.duration and stream.duration > 0:
        return _start(stream) + stream.duration // 2
    if container.duration and container.duration > 0 and stream.time_base:
        seconds = container.duration / av.time_base / 2
        return _start(stream) + int(seconds / stream.time_base)
    return None


_MP4_PARENTS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"moof", b"traf"})


def _mp4_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, body start, end) of the boxes between start and end; sizes past end are cut at end,
    as FFmpeg reads them."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        header = 8
        if size == 1 and at + 16 <= end:  # a 64-bit size follows the type
            size, header = struct.unpack_from(">Q", data, at + 8)[0], 16
        elif size == 0:  # to the end of the parent
            size = end - at
        if size < header:
            return
        size = min(size, end - at)
        yield kind, at + header, at + size
        at += size


def _index_is_small(data: bytes) -> bool:
    """Whether the MP4 declares at most MAX_SAMPLES samples and has no compressed movie header."""
    samples, parents = 0, [(0, len(data))]
    while parents:
        start, end = parents.pop()
        for kind, body, box_end in _mp4_boxes(data, start, end):
            if kind in _MP4_PARENTS:
                parents.append((body, box_end))
            elif kind == b"cmov":
                return False
            elif kind in (b"stsz", b"stz2") and box_end - body >= 12:  # version and flags, size, count
                samples += struct.unpack_from(">I", data, body + 8)[0]
            elif kind == b"trun" and box_end - body >= 8:  # version and flags, count
                samples += struct.unpack_from(">I", data, body + 4)[0]
            if samples > MAX_SAMPLES:
                return False
    return True


# The refusals, each one sentence. Raised as the picture errors' own classes, whose names are how
# scripts/translations finds sentences to translate; the worker and the bot treat them alike.

def _damaged() -> DamagedImage:
    return DamagedImage("The video is truncated or damaged and cannot be read.")


def _too_slow() -> ImageError:
    return ImageTooLarge("Reading the video took too long; send a shorter or smaller one.")  # a limit: time


def _too_many_pixels(width: int, height: int, limits: ImageLimits) -> ImageTooLarge:
    return ImageTooLarge("The video is {width}×{height} ({megapixels} megapixels); the limit is {limit} megapixels.",
                         width=width, height=height, megapixels=round(width * height / 1e6, 1),
                         limit=whole_if_possible(limits.max_pixels / 1e6))
