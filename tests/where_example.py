"""The README's example of "Where?", drawn by the real code with the tiny model:

    python -m tests.where_example docs/where.jpg

A plain picture wider than tall (so the crop the model saw is outlined), a fox (a red diamond) at
the top left of the centre square and a duck (a yellow star) at its bottom right; the map of "fox".
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

from classifier import ClassifierSettings, create_classifier, create_worker
from tests import tiny_clip

TINY_DIR = Path(__file__).resolve().parent.parent / ".cache" / "tiny-clip"


def picture() -> Image.Image:
    side = tiny_clip.DRAW_SIZE
    image = Image.new("RGB", (side * 3 // 2, side), (236, 232, 222))
    pen = ImageDraw.Draw(image)
    left = side // 4
    for label, (cx, cy) in (("fox", (left + 16, 16)), ("duck", (left + 48, 48))):
        tiny_clip.paint(pen, label, tiny_clip.ANIMALS[label][1], cx, cy, 13, 0.1)
    return image


async def draw(out: Path) -> int:
    config, checkpoint = tiny_clip.build(TINY_DIR)
    settings = ClassifierSettings(model=str(config), pretrained=str(checkpoint), device="cpu",
                                  cache_dir=Path(tempfile.mkdtemp(prefix="toonclip-where-")))
    classifier = create_classifier(settings)
    worker = create_worker(settings, classifier)
    worker.start()
    try:
        overlay = await worker.explain(picture(), list(tiny_clip.ANIMALS), "fox")
    finally:
        await worker.stop()
        classifier.close()
    out.write_bytes(overlay.jpeg)
    print(f"{out}: {overlay.width}×{overlay.height}, {len(overlay.jpeg) // 1024} KB")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.where_example OUT.jpg", file=sys.stderr)
        return 2
    random.seed(0)
    return asyncio.run(draw(Path(argv[0])))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
