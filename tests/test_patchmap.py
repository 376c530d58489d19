"""Where the model looked is right, measurably: with the tiny trained model, a shape placed in one
quadrant of a plain picture (or two animals in two quadrants) gets most of its label's map.

The measure: each label's map (classifier/zeroshot.py patch_map, MaskCLIP's value path with a softmax
over the labels per patch) stretched to 0..1 as the overlay shows it, and the share of its mass in
the quadrant the shape was drawn in; a uniform map puts 25% there. Measured with the tiny model of
2026-11 over these placements (bf16 and fp32 alike): 0.84 with one animal, 0.59 with two. In a
first trial on 100 and 200 other placements, MaskCLIP with the softmax read 0.76 and 0.64, with raw
similarities 0.53 and 0.48, GradCAM over the last block 0.69 and 0.57, and the last block's own
patch tokens 0.15 and 0.13 (worse than uniform). The bounds sit well below (0.50 and 0.42, about
twice uniform or more) so that a retrained tiny model (an "other" class, another seed) still
passes, while a map that ignores the picture or reads the wrong tokens cannot.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from classifier import ZeroShotClassifier
from classifier.model.patchmap import MapUnsupported, patch_embeddings, supports_maps
from classifier.pictures.overlay import spread
from tests import tiny_clip

PLACEMENTS = 60
ONE_ANIMAL_BOUND = 0.50
TWO_ANIMALS_BOUND = 0.42
UNIFORM = 0.25
SIDE = tiny_clip.DRAW_SIZE


def placed(animals: list[tuple[str, int]], rng: random.Random) -> Image.Image:
    """A plain light picture with each (label, quadrant) drawn in that quadrant (0 top left, 1 top right,
    2 bottom left, 3 bottom right), about as big as it fits."""
    image = Image.new("RGB", (SIDE, SIDE), tuple(rng.randint(200, 255) for _ in range(3)))  # type: ignore[arg-type]
    pen = ImageDraw.Draw(image)
    half = SIDE // 2
    for label, quadrant in animals:
        row, column = divmod(quadrant, 2)
        cx = half * column + half / 2 + rng.uniform(-2, 2)
        cy = half * row + half / 2 + rng.uniform(-2, 2)
        tiny_clip.paint(pen, label, tiny_clip.ANIMALS[label][1], cx, cy, rng.uniform(11, 14), rng.uniform(-0.3, 0.3))
    return image


def share_in(grid: np.ndarray, quadrant: int) -> float:
    """The share of a map's stretched mass in a quadrant of its patch grid."""
    weights = spread(grid)
    rows, columns = weights.shape
    row, column = divmod(quadrant, 2)
    inside = weights[row * rows // 2:(row + 1) * rows // 2, column * columns // 2:(column + 1) * columns // 2]
    return float(inside.sum() / max(weights.sum(), 1e-9))


def localisation(classifier: ZeroShotClassifier, animals_per_picture: int, seed: int) -> float:
    rng = random.Random(seed)
    labels = list(tiny_clip.ANIMALS)
    classifier.label_embeddings(labels)  # cached, as the worker has them before a map
    shares = []
    for _ in range(PLACEMENTS):
        animals = list(zip(rng.sample(labels, animals_per_picture), rng.sample(range(4), animals_per_picture),
                           strict=True))
        picture = classifier.prepare(placed(animals, rng))
        for label, quadrant in animals:
            grid = classifier.executor.submit(classifier.patch_map, picture, labels, label).result()
            shares.append(share_in(grid, quadrant))
    return float(np.mean(shares))


def test_one_animal_s_map_falls_in_its_quadrant(classifier: ZeroShotClassifier) -> None:
    share = localisation(classifier, 1, seed=1)
    print(f"one animal: {share:.3f} of the map in its quadrant (uniform {UNIFORM})")
    assert share > ONE_ANIMAL_BOUND


def test_two_animals_maps_fall_each_in_its_own_quadrant(classifier: ZeroShotClassifier) -> None:
    share = localisation(classifier, 2, seed=2)
    print(f"two animals: {share:.3f} of each label's map in its own quadrant (uniform {UNIFORM})")
    assert share > TWO_ANIMALS_BOUND


def test_the_map_has_one_value_per_patch_in_the_model_s_grid(classifier: ZeroShotClassifier) -> None:
    labels = ["cat", "dog", "fox"]
    classifier.label_embeddings(labels)
    picture = classifier.prepare(placed([("fox", 3)], random.Random(0)))
    grids = [classifier.executor.submit(classifier.patch_map, picture, labels, label).result() for label in labels]
    assert grids[0].shape == (4, 4)  # 32 px, patches of 8
    assert np.allclose(sum(grids), 1.0, atol=1e-3)  # a softmax over the labels, patch by patch


def test_labels_in_the_reader_s_language_map_as_their_english_names(classifier: ZeroShotClassifier) -> None:
    """An English-only model reads zorro as fox (the lexicon): its map is fox's map, not a wait for an
    embedding that is never kept under "zorro"."""
    classifier.label_embeddings(("zorro", "oso", "pato"))
    picture = classifier.prepare(placed([("fox", 3)], random.Random(0)))
    ours = classifier.executor.submit(classifier.patch_map, picture, ("zorro", "oso", "pato"), "zorro").result()
    english = classifier.executor.submit(classifier.patch_map, picture, ("fox", "bear", "duck"), "fox").result()
    assert np.allclose(ours, english)


def test_a_model_without_patch_tokens_is_refused() -> None:
    import torch

    model = torch.nn.Module()
    assert not supports_maps(model)
    try:
        patch_embeddings(model, torch.zeros(1, 3, 32, 32))
    except MapUnsupported:
        return
    raise AssertionError("a model without a ViT was read")
