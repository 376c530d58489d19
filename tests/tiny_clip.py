"""A tiny CLIP, trained here in about a minute, for tests that need a real model.

    python -m tests.tiny_clip OUT_DIR

Draws its own pictures (one coloured shape per animal, and five kinds of picture that are no
animal: scenes, stripes, text-like marks, checkerboards, gradients), trains a small open_clip
model contrastively against prompts built from the classifier's own templates (the other kinds
against the classifier's negative labels, classifier/text/negatives.txt, so that "none of these"
means something to it), and writes the config JSON, the checkpoint and held-out samples under
OUT_DIR/samples (OUT_DIR/samples/other: the other kinds).
A build with the same recipe is reused. The last two lines printed are
CLIP_MODEL=... and CLIP_PRETRAINED=..., ready for a .env file.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import open_clip
import torch
from PIL import Image, ImageDraw

from classifier.text.labels import DEFAULT_LABELS
from classifier.text.negatives import NEGATIVE_LABELS
from classifier.text.prompts import DEFAULT_TEMPLATES, expand

IMAGE_SIZE = 32
DRAW_SIZE = 64
SAMPLES_PER_LABEL = 6
MEAN = STD = (0.5, 0.5, 0.5)

# Each animal is a shape in a colour; the model only has to learn which words go with which.
ANIMALS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "cat": ("triangle", (240, 140, 30)),
    "dog": ("square", (130, 80, 40)),
    "fox": ("diamond", (220, 40, 20)),
    "bear": ("circle", (70, 40, 20)),
    "rabbit": ("tall", (250, 170, 210)),
    "mouse": ("circle", (150, 150, 150)),
    "duck": ("star", (245, 220, 30)),
    "pig": ("hexagon", (250, 120, 160)),
    "lion": ("ring", (200, 150, 20)),
    "elephant": ("cross", (90, 110, 170)),
}

# Pictures that are none of the animals, each kind called by words of the negative labels that fit it;
# every other negative is shared out among the kinds in turn, so the text tower learns that any of
# them means "not an animal".
OTHER_KINDS: dict[str, tuple[str, ...]] = {
    "scene": ("landscape", "street", "city", "beach", "mountain", "park", "field", "house", "road"),
    "stripes": ("stripes", "flag", "fence", "barcode", "curtain", "towel", "scarf", "carpet"),
    "text": ("screenshot", "text", "document", "receipt", "letter", "newspaper", "page", "menu", "webpage"),
    "checkerboard": ("checkerboard", "chessboard", "tiles", "floor", "tablecloth", "crossword", "quilt"),
    "gradient": ("gradient", "sky", "sunset", "wallpaper", "background", "wall", "fog", "light"),
}
OTHER_SAMPLES = 30  # held out in samples/other, six of each kind


def other_words() -> dict[str, list[str]]:
    """Each other kind's words: its own, then its share of the remaining negative labels."""
    words = {kind: list(own) for kind, own in OTHER_KINDS.items()}
    taken = {word for own in OTHER_KINDS.values() for word in own}
    assert taken <= set(NEGATIVE_LABELS), taken - set(NEGATIVE_LABELS)
    rest = [word for word in NEGATIVE_LABELS if word not in taken]
    for i, word in enumerate(rest):
        words[list(OTHER_KINDS)[i % len(OTHER_KINDS)]].append(word)
    return words


MODEL_CFG = {
    "embed_dim": 64,
    "vision_cfg": {"image_size": IMAGE_SIZE, "layers": 3, "width": 128, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}
PREPROCESS_CFG = {"mean": list(MEAN), "std": list(STD), "interpolation": "bicubic", "resize_mode": "shortest"}
TRAINING = {"seed": 7, "steps": 360, "per_label": 12, "lr": 2e-3, "pool_per_label": 400}
RECIPE = {"version": 2, "labels": list(ANIMALS), "model": MODEL_CFG, "preprocess": PREPROCESS_CFG,
          "training": TRAINING, "templates": list(DEFAULT_TEMPLATES), "others": other_words()}


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


def _polygon(cx: float, cy: float, r: float, sides: int, turn: float) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(turn + 2 * math.pi * i / sides), cy + r * math.sin(turn + 2 * math.pi * i / sides))
            for i in range(sides)]


def draw(label: str, rng: random.Random) -> Image.Image:
    """One picture of an animal: its shape and colour, jittered, on a random light background."""
    colour = ANIMALS[label][1]
    background = tuple(rng.randint(200, 255) for _ in range(3))
    image = Image.new("RGB", (DRAW_SIZE, DRAW_SIZE), background)  # type: ignore[arg-type]
    pen = ImageDraw.Draw(image)
    fill = tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in colour)
    r = rng.uniform(13, 22)
    cx, cy = rng.uniform(r + 2, DRAW_SIZE - r - 2), rng.uniform(r + 2, DRAW_SIZE - r - 2)
    turn = rng.uniform(-0.3, 0.3)
    paint(pen, label, fill, cx, cy, r, turn)
    return image


def paint(pen: ImageDraw.ImageDraw, label: str, fill: tuple[int, ...], cx: float, cy: float, r: float,
          turn: float = 0.0) -> None:
    """Draw an animal's shape in fill, centred at (cx, cy) with radius r, turned by turn radians."""
    shape = ANIMALS[label][0]
    if shape == "circle":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "tall":
        pen.ellipse((cx - r * 0.5, cy - r, cx + r * 0.5, cy + r), fill=fill)
    elif shape == "ring":
        pen.ellipse((cx - r, cy - r, cx + r, cy + r), outline=fill, width=max(3, int(r / 3)))
    elif shape == "square":
        pen.polygon(_polygon(cx, cy, r, 4, math.pi / 4 + turn), fill=fill)
    elif shape == "diamond":
        pen.polygon(_polygon(cx, cy, r, 4, turn), fill=fill)
    elif shape == "triangle":
        pen.polygon(_polygon(cx, cy, r, 3, -math.pi / 2 + turn), fill=fill)
    elif shape == "hexagon":
        pen.polygon(_polygon(cx, cy, r, 6, turn), fill=fill)
    elif shape == "star":
        points = [(cx + (r if i % 2 == 0 else r * 0.45) * math.cos(turn - math.pi / 2 + math.pi * i / 5),
                   cy + (r if i % 2 == 0 else r * 0.45) * math.sin(turn - math.pi / 2 + math.pi * i / 5))
                  for i in range(10)]
        pen.polygon(points, fill=fill)
    elif shape == "cross":
        w = r * 0.35
        pen.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
        pen.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)


def _colour(rng: random.Random, low: int = 0, high: int = 255) -> tuple[int, int, int]:
    return (rng.randint(low, high), rng.randint(low, high), rng.randint(low, high))


def draw_other(kind: str, rng: random.Random) -> Image.Image:
    """One picture that is none of the animals: a scene, stripes, text-like marks, a checkerboard or a
    gradient, in random colours."""
    image = Image.new("RGB", (DRAW_SIZE, DRAW_SIZE), _colour(rng, 180))
    pen = ImageDraw.Draw(image)
    if kind == "scene":  # sky over ground, a few small buildings on the horizon
        horizon = rng.randint(24, 44)
        pen.rectangle((0, 0, DRAW_SIZE, horizon), fill=(rng.randint(90, 160), rng.randint(150, 210), 240))
        pen.rectangle((0, horizon, DRAW_SIZE, DRAW_SIZE), fill=(rng.randint(40, 120), rng.randint(100, 170), 40))
        for _ in range(rng.randint(2, 5)):
            x, w, h = rng.randint(0, DRAW_SIZE - 8), rng.randint(4, 9), rng.randint(4, 14)
            pen.rectangle((x, horizon - h, x + w, horizon), fill=_colour(rng, 60, 200))
    elif kind == "stripes":
        width, first, second = rng.randint(3, 8), _colour(rng), _colour(rng)
        vertical = rng.random() < 0.5
        for i, start in enumerate(range(0, DRAW_SIZE, width)):
            box = (start, 0, start + width, DRAW_SIZE) if vertical else (0, start, DRAW_SIZE, start + width)
            pen.rectangle(box, fill=first if i % 2 == 0 else second)
    elif kind == "text":  # rows of short dark marks, like words on a page or a screenshot
        ink = _colour(rng, 0, 80)
        for y in range(rng.randint(3, 8), DRAW_SIZE - 4, rng.randint(6, 9)):
            x = rng.randint(2, 6)
            while x < DRAW_SIZE - 6:
                word = rng.randint(3, 10)
                pen.rectangle((x, y, min(DRAW_SIZE - 3, x + word), y + 2), fill=ink)
                x += word + rng.randint(2, 4)
    elif kind == "checkerboard":
        cell, first, second = rng.randint(4, 12), _colour(rng), _colour(rng)
        for row in range(0, DRAW_SIZE, cell):
            for column in range(0, DRAW_SIZE, cell):
                if (row // cell + column // cell) % 2 == 0:
                    pen.rectangle((column, row, column + cell - 1, row + cell - 1), fill=first)
                else:
                    pen.rectangle((column, row, column + cell - 1, row + cell - 1), fill=second)
    elif kind == "gradient":
        first, second = _colour(rng), _colour(rng)
        for i in range(DRAW_SIZE):
            mix = i / (DRAW_SIZE - 1)
            colour = tuple(int(a + (b - a) * mix) for a, b in zip(first, second, strict=True))
            pen.line((0, i, DRAW_SIZE, i), fill=colour)  # type: ignore[arg-type]
        if rng.random() < 0.5:
            image = image.rotate(90)
    return image


def train(checkpoint: Path, model_cfg: dict[str, Any] = MODEL_CFG, words: list[str] | None = None,
          templates: tuple[str, ...] = (*DEFAULT_TEMPLATES, "{}", "a {}"),
          tokenizer: Callable[[list[str]], torch.Tensor] | None = None) -> None:
    """Train a tiny CLIP on the drawn animals, each called by its word in `words` (the English
    labels by default), through `templates` and `tokenizer` (CLIP's own by default)."""
    torch.manual_seed(TRAINING["seed"])
    rng = random.Random(TRAINING["seed"])
    labels = list(ANIMALS)
    words = words or labels
    others = other_words()
    text_cfg = {k: v for k, v in model_cfg["text_cfg"].items() if k != "hf_tokenizer_name"}
    model = open_clip.model.CLIP(**{**model_cfg, "text_cfg": text_cfg})
    preprocess = open_clip.image_transform(IMAGE_SIZE, is_train=False, mean=MEAN, std=STD,
                                           interpolation="bicubic", resize_mode="shortest")
    tokenizer = tokenizer or open_clip.tokenizer.SimpleTokenizer(context_length=text_cfg["context_length"])
    prompts = torch.stack([tokenizer(expand(word, templates)) for word in words])  # (L, T, C)
    # Negative labels are read through the configured (English) templates, as the classifier reads them.
    other_templates = (*DEFAULT_TEMPLATES, "{}", "a {}")
    other_prompts = [torch.stack([tokenizer(expand(word, other_templates)) for word in kind_words])
                     for kind_words in others.values()]  # per kind: (W, T, C)
    pool = torch.stack([
        torch.stack([preprocess(draw(label, rng)) for _ in range(TRAINING["pool_per_label"])])
        for label in labels
    ] + [
        torch.stack([preprocess(draw_other(kind, rng)) for _ in range(TRAINING["pool_per_label"])])
        for kind in others
    ])  # (L + K, P, 3, S, S)
    optimiser = torch.optim.AdamW(model.parameters(), lr=TRAINING["lr"], weight_decay=0.01)
    steps = TRAINING["steps"]
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=TRAINING["lr"], total_steps=steps)
    n_labels, per_label = len(labels) + len(others), TRAINING["per_label"]
    targets = torch.arange(n_labels).repeat_interleave(per_label)
    model.train()
    for step in range(steps):
        picks = torch.randint(0, pool.shape[1], (n_labels, per_label))
        images = pool[torch.arange(n_labels)[:, None], picks].flatten(0, 1)
        texts = torch.cat([
            prompts[torch.arange(len(labels)), torch.randint(0, len(templates), (len(labels),))],
            torch.stack([kind[torch.randint(0, len(kind), ()), torch.randint(0, len(other_templates), ())]
                         for kind in other_prompts]),
        ])
        image_features = torch.nn.functional.normalize(model.encode_image(images), dim=-1)
        text_features = torch.nn.functional.normalize(model.encode_text(texts), dim=-1)
        logits = model.logit_scale.exp() * image_features @ text_features.T  # (B, L)
        # Contrastive both ways: each image against every label's prompt, and each
        # prompt against every image, its positives being all images of its label.
        text_targets = (targets[None, :] == torch.arange(n_labels)[:, None]).float() / per_label
        loss = (torch.nn.functional.cross_entropy(logits, targets)
                + torch.nn.functional.cross_entropy(logits.T, text_targets)) / 2
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 60 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}", file=sys.stderr, flush=True)
    model.eval()
    torch.save(model.state_dict(), checkpoint)


def write_samples(out: Path, words: list[str] | None = None) -> None:
    """Held-out pictures of each animal in out/samples/<its word>/, and of the other kinds in
    out/samples/other/ (six of each kind, the kinds in turn: 00 is a scene, 01 stripes, ...)."""
    rng = random.Random(TRAINING["seed"] + 1000)  # a different stream: held out from training
    for label, word in zip(ANIMALS, words or list(ANIMALS), strict=True):
        folder = out / "samples" / word
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(SAMPLES_PER_LABEL):
            picture = io.BytesIO()
            draw(label, rng).save(picture, format="PNG")
            _write_atomically(folder / f"{i:02d}.png", picture.getvalue())
    folder = out / "samples" / "other"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(OTHER_SAMPLES):
        picture = io.BytesIO()
        draw_other(list(OTHER_KINDS)[i % len(OTHER_KINDS)], rng).save(picture, format="PNG")
        _write_atomically(folder / f"{i:02d}.png", picture.getvalue())


def cached(out: Path, name: str, recipe: str, make: Callable[[Path, Path], None]) -> tuple[Path, Path]:
    """(out/name.json, out/name.pt), made by make(config, checkpoint) unless a build of the same
    recipe is already there.

    Safe for several runs at once: the check and the build hold an exclusive lock (flock on
    out/.lock), so a second run waits for the first one's build instead of reading it half-written
    or writing it twice. make writes the config and the checkpoint under temporary names that are
    renamed into place, and the recipe stamp is renamed in last: a run that opened the files before
    a rebuild keeps reading the old ones whole, and one that finds the stamp finds a whole build.
    """
    out.mkdir(parents=True, exist_ok=True)
    config, checkpoint, stamp = out / f"{name}.json", out / f"{name}.pt", out / "recipe.txt"
    with (out / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if stamp.exists() and stamp.read_text() == recipe and config.exists() and checkpoint.exists():
            return config, checkpoint
        stamp.unlink(missing_ok=True)
        started = time.monotonic()
        torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
        config_tmp, checkpoint_tmp = (path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")
                                      for path in (config, checkpoint))
        try:
            make(config_tmp, checkpoint_tmp)
            os.replace(config_tmp, config)
            os.replace(checkpoint_tmp, checkpoint)
        finally:
            config_tmp.unlink(missing_ok=True)
            checkpoint_tmp.unlink(missing_ok=True)
        _write_atomically(stamp, recipe.encode())
        print(f"trained in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return config, checkpoint


def _write_atomically(path: Path, data: bytes) -> None:
    """Write data to path through a temporary file renamed over it: readers see all or nothing."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build(out: Path) -> tuple[Path, Path]:
    """Build the tiny model into out (or reuse it); returns (config path, checkpoint path)."""
    def make(config: Path, checkpoint: Path) -> None:
        config.write_text(json.dumps({"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}, indent=2))
        train(checkpoint)
        write_samples(out)

    return cached(out, "tiny_clip", recipe_hash(), make)


def command(build: Callable[[Path], tuple[Path, Path]], program: str, argv: list[str]) -> int:
    """`python -m PROGRAM OUT_DIR`: build, then print the two settings that use the model."""
    if len(argv) != 1:
        print(f"usage: python -m {program} OUT_DIR", file=sys.stderr)
        return 2
    config, checkpoint = build(Path(argv[0]))
    print(f"CLIP_MODEL={config.resolve()}")
    print(f"CLIP_PRETRAINED={checkpoint.resolve()}")
    return 0


def main(argv: list[str]) -> int:
    assert tuple(ANIMALS) == DEFAULT_LABELS
    return command(build, "tests.tiny_clip", argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
