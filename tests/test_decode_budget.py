"""Decoding within one memory budget: what big pictures cost in a fresh process, the budget shared by
threads, the refusal of a picture that could never fit, and the same pictures as before the change.

Every bound is memory (the kernel's peak resident memory, VmHWM), never time.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from classifier import DEFAULT_LABELS, ImageLimits, ImageTooLarge, ZeroShotClassifier, decode_image
from classifier.pictures.budget import DecodeBudget
from classifier.pictures.images import to_rgb
from tests import bigpictures, pictures

ROOT = Path(__file__).resolve().parent.parent
BIG_DIR = ROOT / ".cache" / "bigpictures"
MB = 2**20
# Over the decoded picture (4 bytes a pixel for RGBA, 2 for 16-bit grey at 49 megapixels: 187 and
# 93 MB), a strip's conversion (6 MB) and what the allocator keeps: docs/limits.md.
BOUND_MB = {"png-rgba": 187 + 20, "png-grey16": 93 + 20}  # before this change: 935 and 661 MB


def peak(names: list[str], *options: str) -> dict[str, object]:
    """tests/decode_peak.py on these pictures at the pixel limit, in a fresh process."""
    files = [str(path) for path in bigpictures.made(names, BIG_DIR)]
    done = subprocess.run([sys.executable, "-m", "tests.decode_peak", *files, *options], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("name", sorted(BOUND_MB))
def test_a_big_picture_costs_its_decoded_size_not_four_copies(name: str) -> None:
    measured = peak([name])
    assert measured["results"] == ["539x539 -> 256x256"]  # 7000 / 13: twice the model's 256, shrunk early
    growth = float(measured["growth_mb"])  # type: ignore[arg-type]
    assert growth <= BOUND_MB[name]
    [reserved] = measured["reserved_mb"]  # type: ignore[misc]
    assert growth <= reserved  # the worst case reserved from the budget is indeed the worst case


def test_six_big_pictures_through_four_threads_share_one_budget() -> None:
    measured = peak(["png-rgba"] * 6, "--threads", "4", "--budget-mb", "300")
    assert measured["results"] == ["539x539 -> 256x256"] * 6
    # 197 MB reserved each, so one at a time: four threads at once would have taken 4 × 193 MB.
    assert float(measured["growth_mb"]) <= 300 + 20  # type: ignore[arg-type]


def test_a_picture_that_could_never_fit_the_budget_is_refused_in_one_sentence() -> None:
    data = bigpictures.png(2000, 6, 8, 4)  # RGBA: 15.3 MB decoded, 6 MB a strip
    with pytest.raises(ImageTooLarge) as refused:
        decode_image(data, ImageLimits(max_decode_bytes=20 * MB), target_size=64)
    assert str(refused.value) == ("The picture is 2000×2000 and would take 22 MB of memory to read; "
                                  "the limit is 20 MB.")
    assert decode_image(data, ImageLimits(max_decode_bytes=30 * MB), target_size=64).size == (134, 134)  # 2000 // 15


def test_the_budget_lets_pictures_in_while_they_fit_and_in_the_order_they_came() -> None:
    budget = DecodeBudget(100)
    budget.acquire(60)
    order: list[str] = []
    entered = {name: threading.Event() for name in ("big", "small")}

    def take(name: str, size: int) -> None:
        budget.acquire(size)
        order.append(name)
        entered[name].set()

    big = threading.Thread(target=take, args=("big", 70))
    big.start()
    assert not entered["big"].wait(0.2)  # 60 + 70 > 100: it waits
    small = threading.Thread(target=take, args=("small", 30))
    small.start()
    assert not entered["small"].wait(0.2)  # it would fit, but the big one came first
    budget.release(60)
    big.join(30)
    small.join(30)
    assert order == ["big", "small"] and budget.used == 100
    with pytest.raises(ValueError, match="more than the whole decode budget"):
        budget.acquire(101)


def _old_decode(data: bytes) -> Image.Image:
    """The code before the budget: decode whole, turn upright, convert whole."""
    image = Image.open(io.BytesIO(data))
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    return to_rgb(image)


def _ordinary_pictures(samples_dir: Path) -> dict[str, bytes]:
    """The held-out samples, enlarged to photo sizes, in the modes that go through a conversion."""
    made: dict[str, bytes] = {}
    for folder in sorted(samples_dir.iterdir()):
        sample = Image.open(next(iter(sorted(folder.iterdir())))).convert("RGB").resize((640, 480),
                                                                                          Image.Resampling.BICUBIC)
        rgba = sample.convert("RGBA")
        rgba.putalpha(Image.linear_gradient("L").resize(sample.size))
        exif = Image.Exif()
        exif[0x0112] = 6
        made[f"{folder.name}.png"] = pictures.encode(sample, "PNG")
        made[f"{folder.name}-rgba.png"] = pictures.encode(rgba, "PNG")
        made[f"{folder.name}-palette.gif"] = pictures.encode(sample.quantize(64), "GIF")
        made[f"{folder.name}-rotated.webp"] = pictures.encode(sample, "WEBP", quality=95, exif=exif.tobytes())
        made[f"{folder.name}-grey16.png"] = pictures.encode(
            Image.fromarray(np.asarray(sample.convert("L"), dtype=np.uint16) * 257), "PNG")
    return made


def test_ordinary_pictures_give_the_model_what_they_gave_it_before(classifier: ZeroShotClassifier,
                                                                    samples_dir: Path) -> None:
    made = _ordinary_pictures(samples_dir)
    old = [_old_decode(data) for data in made.values()]
    new = [decode_image(data, ImageLimits(), classifier.image_size) for data in made.values()]
    assert [n.size for n in new] == [(92, 69) if o.width > o.height else (69, 92) for o in old]  # 7× smaller
    for name, before, after in zip(made, old, new, strict=True):
        difference = np.abs(classifier.prepare(before).astype(np.int16) - classifier.prepare(after))
        assert difference.mean() <= 2.0, name  # of 255: a box filter then bicubic, against bicubic alone
    labels = [p.label for p in classifier.classify_images(new, DEFAULT_LABELS)]
    assert labels == [p.label for p in classifier.classify_images(old, DEFAULT_LABELS)]
