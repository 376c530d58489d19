"""The overlay people read: its colours, its size and shape, the picture upright, the crop outlined,
and a map drawn through the worker as a step of its own between image batches."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from classifier import ClassifierSettings, ZeroShotClassifier, create_worker
from classifier.batching.schedule import Scheduler, Step
from classifier.pictures.overlay import LONG_SIDE_MAX, LUT, display_size, draw_overlay
from tests import pictures
from tests.conftest import sample


def test_the_colours_are_viridis_and_get_lighter_all_the_way() -> None:
    assert LUT.shape == (256, 3)
    assert tuple(LUT[0]) == (68, 1, 84) and tuple(LUT[-1]) == (253, 231, 37)  # dark purple to yellow
    lightness = LUT.astype(float) @ np.array([0.2126, 0.7152, 0.0722])  # readable in grey, too
    assert np.all(np.diff(lightness) >= 0) and np.all(np.diff(lightness[::8]) > 0)


def test_sizes_keep_the_shape_within_what_telegram_shows_without_a_tap() -> None:
    assert display_size(4000, 3000) == (LONG_SIDE_MAX, 960)
    assert display_size(64, 64) == (640, 640)  # a small sticker is enlarged
    assert display_size(100, 300) == (213, 640)


def test_a_big_picture_becomes_a_jpeg_of_1280_on_its_long_side() -> None:
    overlay = draw_overlay(Image.new("RGB", (3000, 2000), (200, 120, 40)), np.eye(4, dtype=np.float32))
    image = Image.open(io.BytesIO(overlay.jpeg))
    assert image.format == "JPEG" and image.width == LONG_SIDE_MAX == overlay.width
    assert 853 < image.height == overlay.height < 853 * 1.1  # the picture, then the colour bar
    assert len(overlay.jpeg) < 400_000


def test_the_map_s_bright_patch_is_where_the_grid_says() -> None:
    grid = np.zeros((4, 4), dtype=np.float32)
    grid[3, 0] = 1.0  # the bottom-left patch
    image = Image.open(io.BytesIO(draw_overlay(Image.new("RGB", (64, 64), (128, 128, 128)), grid).jpeg))
    bright, dark = image.getpixel((80, 560)), image.getpixel((560, 80))
    assert sum(bright) > sum(dark) + 150  # type: ignore[arg-type]
    assert bright[0] > bright[2]  # yellow side of viridis  # type: ignore[index]


async def test_through_the_worker_the_picture_is_upright(settings: ClassifierSettings,
                                                         classifier: ZeroShotClassifier) -> None:
    worker = create_worker(settings, classifier)
    worker.start()
    try:
        overlay = await worker.explain(pictures.exif_rotated_jpeg(), ["cat", "dog"], "cat")
    finally:
        await worker.stop()
    image = Image.open(io.BytesIO(overlay.jpeg)).convert("RGB")
    assert (overlay.width, image.width) == (480, 480)  # stored 64×48, shown 48×64: upright and portrait
    top, bottom = image.getpixel((240, 30)), image.getpixel((240, 610))
    assert top[0] > top[2] and bottom[2] > bottom[0]  # the red half on top, dimmed outside the crop


async def test_maps_take_turns_with_image_batches(settings: ClassifierSettings, classifier: ZeroShotClassifier,
                                                  samples_dir: Path) -> None:
    """Eight maps and eight pictures at once, batches of two: every map runs as a step of its own and
    every caller is answered."""
    worker = create_worker(replace(settings, batch_max_size=2), classifier)
    worker.start()
    fox = sample(samples_dir, "fox")
    labels = ["cat", "dog", "fox"]
    try:
        await worker.classify(fox, labels)
        done = await asyncio.gather(*(worker.explain(fox, labels, "fox") for _ in range(8)),
                                    *(worker.classify(fox, labels) for _ in range(8)))
    finally:
        await worker.stop()
    assert worker.maps.made == 8 and all(done)


def test_the_scheduler_runs_maps_between_batches_and_shares_with_text() -> None:
    scheduler = Scheduler()
    everything = {"pictures": True, "text": True, "maps": True, "closing": False, "unanswered": 3}
    assert [scheduler.next(**everything) for _ in range(6)] == [  # type: ignore[arg-type]
        Step.IMAGES, Step.TEXT, Step.IMAGES, Step.MAP, Step.IMAGES, Step.TEXT]
    assert scheduler.next(pictures=False, text=False, maps=True, closing=False, unanswered=1) is Step.MAP
