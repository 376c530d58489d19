"""Videos (MP4, WebM, MKV): one keyframe near the middle, or one sentence, within every limit."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from classifier import (
    ClassifierSettings,
    DamagedImage,
    ImageLimits,
    ImageTooLarge,
    NotAnImage,
    ZeroShotClassifier,
    decode_image,
)
from classifier.pictures import video
from tests import pictures

ROOT = Path(__file__).resolve().parent.parent
LIMITS = ImageLimits()
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def scenes() -> list[Image.Image]:
    """Three scenes, red, green and blue: the middle one is green."""
    return [Image.new("RGB", (64, 48), colour) for colour in (RED, GREEN, BLUE)]


def colour_at_centre(image: Image.Image) -> tuple[int, int, int]:
    """The dominant colour in the middle of a picture, as RED, GREEN or BLUE."""
    r, g, b = image.getpixel((image.width // 2, image.height // 2))  # type: ignore[misc]
    return max((RED, GREEN, BLUE), key=lambda c: c[0] * r + c[1] * g + c[2] * b)


@pytest.mark.parametrize("options", [
    {"fmt": "mp4", "codec": "libx264"},                       # what Telegram sends: GIFs, videos, video notes
    {"fmt": "mp4", "codec": "libx264", "faststart": True},    # the index before the data
    {"fmt": "mp4", "codec": "mpeg4"},
    {"fmt": "mp4", "codec": "libx265"},
    {"fmt": "webm", "codec": "libvpx-vp9"},                   # video stickers
    {"fmt": "webm", "codec": "libvpx"},
    {"fmt": "matroska", "codec": "libx264"},
], ids=lambda o: "-".join(str(v) for v in o.values()))
def test_the_keyframe_near_the_middle_is_read(options: dict[str, object]) -> None:
    picture = decode_image(pictures.story(scenes(), **options), LIMITS)  # type: ignore[arg-type]
    assert picture.mode == "RGB" and picture.size == (64, 48)
    assert colour_at_centre(picture) == GREEN


def test_a_clip_with_one_keyframe_gives_its_first_frame() -> None:
    frames = [scene for scene in scenes() for _ in range(5)]
    assert colour_at_centre(decode_image(pictures.clip(frames, keyframe_every=100), LIMITS)) == RED


def test_a_truncated_clip_falls_back_to_its_first_keyframe() -> None:
    data = pictures.story(scenes(), faststart=True)  # the index first: a cut keeps it
    first_keyframe_ends = data.index(b"mdat") + 4 + (len(data) - data.index(b"mdat")) // 3
    cut = next(n for n in range(first_keyframe_ends, len(data)) if _readable(data[:n]))
    assert colour_at_centre(decode_image(data[:cut], LIMITS)) == RED


def _readable(data: bytes) -> bool:
    try:
        decode_image(data, LIMITS)
    except DamagedImage:
        return False
    return True


@pytest.mark.parametrize("cut", [0.1, 0.5, 0.9])
def test_truncated_mp4s_are_refused_in_one_sentence(cut: float) -> None:
    data = pictures.story(scenes())  # FFmpeg writes the index last: a cut loses it
    with pytest.raises(DamagedImage, match=r"^The video is truncated or damaged and cannot be read\.$"):
        decode_image(data[: int(len(data) * cut)], LIMITS)


def test_a_phone_video_is_turned_as_its_display_matrix_says() -> None:
    turned = decode_image(pictures.turned_clockwise(pictures.clip([pictures.half_and_half()] * 3)), LIMITS)
    assert turned.size == (48, 64)
    assert colour_at_centre(turned.crop((0, 0, 48, 20))) == RED  # the left half is on top
    assert colour_at_centre(turned.crop((0, 44, 48, 64))) == BLUE


def test_the_pixel_limit_is_read_from_the_header_before_decoding() -> None:
    clip = pictures.clip([Image.new("RGB", (400, 300), GREEN)] * 3)
    with pytest.raises(ImageTooLarge, match=r"^The video is 400×300 \(0\.1 megapixels\); the limit is 0\.1 "):
        decode_image(clip, ImageLimits(max_pixels=100_000))
    claim = pictures.mp4_claiming(8000, 8000)  # 64 megapixels in the headers, a few hundred bytes of data
    assert len(claim) < 3000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageTooLarge, match=r"8000×8000 \(64\.0 megapixels\); the limit is 50 megapixels"):
        decode_image(claim, LIMITS)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50  # a decoded 8000×8000 frame would take 96 MB


def peak_growth_mb(call: Callable[[], object]) -> float:
    """How far above the memory in use now the process's peak goes during call (Linux: the peak is reset)."""
    def status(field: str) -> float:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
        return int(line.split()[1]) / 1024

    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from the memory in use
    before = status("VmRSS:")
    call()
    return status("VmHWM:") - before


def refused_as_damaged(data: bytes) -> None:
    with pytest.raises(DamagedImage, match="truncated or damaged"):
        decode_image(data, LIMITS)


@pytest.mark.parametrize("bomb", ["sample table", "sample table past the end", "fragment run",
                                  "compressed header"])
def test_index_bombs_are_refused_before_ffmpeg_reads_them(bomb: str) -> None:
    if bomb == "compressed header":
        data = pictures.mp4_compressed_header(300)  # 300 KB that FFmpeg would inflate to 300 MB
    elif bomb == "fragment run":
        data = pictures.mp4_fragment_declaring(50_000_000)  # FFmpeg: 1.2 GB of index entries
    else:
        data = pictures.mp4_declaring(50_000_000)  # FFmpeg: 600 MB and more of index entries
        if bomb == "sample table past the end":
            index = data.index(b"moov") - 4
            data = data[:index] + struct.pack(">I", 0xFFFFFFF0) + data[index + 4:]  # FFmpeg cuts it at the end
    assert len(data) < 400_000
    assert peak_growth_mb(lambda: refused_as_damaged(data)) < 100


def test_what_real_clips_declare_is_read() -> None:
    scenes_ = scenes()
    assert colour_at_centre(decode_image(pictures.story(scenes_, fragmented=True), LIMITS)) == GREEN


def test_an_absurd_header_gets_one_sentence() -> None:
    with pytest.raises(DamagedImage, match="truncated or damaged"):  # FFmpeg refuses the size itself
        decode_image(pictures.mp4_claiming(65_000, 65_000), LIMITS)


def test_the_size_the_stream_declares_is_the_size_checked() -> None:
    # 64×48 pixels of data under headers that say 4000×4000: FFmpeg believes the headers, and so does the check.
    claim = pictures.mp4_claiming(4000, 4000)
    assert decode_image(claim, LIMITS).size == (4000, 4000)
    with pytest.raises(ImageTooLarge, match="4000×4000"):
        decode_image(claim, ImageLimits(max_pixels=10_000_000))


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "The file is empty."),
    (b"this is plain text, not a video\n" * 10, "This file is not a picture I can read"),
    (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 40, "The video is truncated or damaged and cannot be read."),
    (b"\x1a\x45\xdf\xa3" + b"\xff" * 60, "The video is truncated or damaged and cannot be read."),
])
def test_what_is_no_video_gets_one_sentence(data: bytes, expected: str) -> None:
    with pytest.raises((NotAnImage, DamagedImage)) as caught:
        decode_image(data, LIMITS)
    assert str(caught.value).startswith(expected)


def test_sound_without_a_picture_is_refused() -> None:
    with pytest.raises(NotAnImage, match=r"^The file has no video in it"):
        decode_image(pictures.sound_only_mp4(), LIMITS)


def test_codecs_nobody_sends_are_refused_by_name() -> None:
    lossless = pictures.clip(scenes(), fmt="matroska", codec="ffv1")
    with pytest.raises(NotAnImage, match=r"^FFV1 videos are not supported; send an H\.264"):
        decode_image(lossless, LIMITS)


def test_the_time_limit_stops_reading() -> None:
    data = pictures.story(scenes())
    with pytest.raises(ImageTooLarge, match="took too long"):
        video.decode_frame(data, LIMITS, seconds=0.0)
    assert video.decode_frame(data, LIMITS).size == (64, 48)


def test_pictures_in_the_mp4_family_still_go_to_pillow() -> None:
    heic = pictures.encode(pictures.half_and_half(), "HEIF", quality=90)
    assert video.container_format(heic) is None
    assert decode_image(heic, LIMITS).size == (64, 48)


def test_one_decode_stays_within_its_time(patience: float) -> None:
    data = pictures.story([Image.new("RGB", (1280, 720), c) for c in (RED, GREEN, BLUE)], frames_each=10)
    started = time.perf_counter()
    assert colour_at_centre(decode_image(data, LIMITS)) == GREEN
    assert time.perf_counter() - started < video.VIDEO_SECONDS * patience / 3


def test_the_tiny_model_reads_the_middle_of_a_clip(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    frames = [Image.open(samples_dir / label / "01.png").convert("RGB") for label in ("duck", "fox", "duck")]
    picture = decode_image(pictures.story(frames), LIMITS)
    [prediction] = classifier.executor.submit(classifier.classify_images, [picture], ["duck", "fox"]).result()
    assert prediction.label == "fox"


def test_the_cli_reads_gifs_and_videos_in_folders_and_from_stdin(settings: ClassifierSettings, samples_dir: Path,
                                                                 tmp_path: Path) -> None:
    fox = [Image.open(samples_dir / label / "01.png").convert("RGB") for label in ("duck", "fox", "duck")]
    tree = tmp_path / "media"
    tree.mkdir()
    (tree / "a-gif.mp4").write_bytes(pictures.story(fox))
    (tree / "b-sticker.webm").write_bytes(pictures.story(fox, fmt="webm", codec="libvpx-vp9"))
    (tree / "c-real.gif").write_bytes(pictures.encode(fox[1], "GIF"))
    (tree / "d-no-extension").write_bytes(pictures.story(fox, fmt="matroska"))
    (tree / "e-text.mp4").write_text("a text file that calls itself a video is skipped in a folder")
    (tree / "f-sound.mp4").write_bytes(pictures.sound_only_mp4())  # no picture in it: skipped too
    (tree / "g-cut.mp4").write_bytes(pictures.story(fox)[:300])  # a video, damaged: said
    env = {**os.environ, "CLIP_MODEL": settings.model, "CLIP_PRETRAINED": settings.pretrained,
           "CACHE_DIR": str(settings.cache_dir), "CLIP_DEVICE": "cpu"}
    listed = f"{tree / 'a-gif.mp4'}\n{tree / 'e-text.mp4'}\n"
    done = subprocess.run([sys.executable, "-m", "classifier", "predict", str(tree), "-", "--json",
                           "--labels", "duck, fox"], cwd=ROOT, env=env, input=listed, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr  # the cut video and the listed text file fail
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(Path(line["path"]).name, line.get("label") or line["error"]) for line in lines] == [
        ("a-gif.mp4", "fox"), ("b-sticker.webm", "fox"), ("c-real.gif", "fox"), ("d-no-extension", "fox"),
        ("g-cut.mp4", "The video is truncated or damaged and cannot be read."),
        ("a-gif.mp4", "fox"),
        ("e-text.mp4", "This file is not a picture I can read; send a JPEG, PNG, WEBP, GIF, BMP, TIFF, HEIC, "
                       "AVIF image."),
    ]
    assert "Traceback" not in done.stderr
