from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from classifier import DEFAULT_LABELS, ClassifierSettings, ImageLimits, ZeroShotClassifier, create_classifier
from classifier import decode_image as decode
from classifier.model.clip import ClipModel
from tests.conftest import sample


def test_tiny_model_is_at_least_90_percent_right_on_held_out_samples(
    classifier: ZeroShotClassifier, samples_dir: Path
) -> None:
    right = total = 0
    for folder in sorted(f for f in samples_dir.iterdir() if f.name != "other"):
        images = [decode(p.read_bytes(), ImageLimits(), classifier.image_size) for p in sorted(folder.iterdir())]
        predictions = classifier.classify_images(images, DEFAULT_LABELS)
        right += sum(p.label == folder.name for p in predictions)
        total += len(predictions)
    assert total >= 5 * len(DEFAULT_LABELS)
    assert right / total >= 0.9


def test_prediction_is_sorted_and_sums_to_one(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    image = decode(sample(samples_dir, "duck"), ImageLimits())
    [prediction] = classifier.classify_images([image], ["cat", "duck", "pig"])
    probabilities = [p for _, p in prediction.ranking]
    assert prediction.label == "duck"
    assert probabilities == sorted(probabilities, reverse=True)
    assert abs(sum(probabilities) - 1) < 1e-5
    assert {label for label, _ in prediction.ranking} == {"cat", "duck", "pig"}


def ensemble_by_hand(clip: ClipModel, sentences: list[str]) -> np.ndarray:
    """The renormalised mean of the sentences' normalised embeddings, computed apart from the code:
    open_clip's own encode_text, one sentence at a time, then numpy in float64."""
    with torch.no_grad():
        rows = [clip.model.encode_text(clip.tokenizer([s]).to(clip.device))[0].float().numpy().astype(np.float64)
                for s in sentences]
    unit = [row / np.sqrt((row * row).sum()) for row in rows]
    mean = sum(unit) / len(unit)
    return mean / np.sqrt((mean * mean).sum())  # type: ignore[no-any-return]


def cosine(a: torch.Tensor, b: np.ndarray) -> float:
    x = a.double().numpy()
    return float(x @ b / np.sqrt((x * x).sum() * (b * b).sum()))


def test_label_embedding_is_the_renormalised_template_mean(classifier: ZeroShotClassifier) -> None:
    [vector] = classifier.label_embeddings(["fox"])
    sentences = [t.replace("{}", "fox") for t in classifier.templates]
    assert len(sentences) == 8
    expected = ensemble_by_hand(classifier.clip, sentences)
    assert abs(vector.norm().item() - 1) < 1e-5
    assert cosine(vector, expected) > 0.999
    # The test tells the ensemble from its parts: each template alone points elsewhere.
    assert all(cosine(vector, ensemble_by_hand(classifier.clip, [s])) < cosine(vector, expected) - 1e-3
               for s in sentences)


def test_seen_labels_are_not_encoded_again(classifier: ZeroShotClassifier) -> None:
    classifier.label_embeddings(["cat", "dog", "fox"])
    assert classifier.encoded_labels == 3
    classifier.label_embeddings(["fox", "dog", "cat"])
    assert classifier.encoded_labels == 3
    classifier.label_embeddings(["cat", "owl"])  # shares one label: only the new one is encoded
    assert classifier.encoded_labels == 4


def test_text_cache_survives_a_restart(settings: ClassifierSettings) -> None:
    first = create_classifier(settings)
    before = first.label_embeddings(["cat", "dog"])
    second = create_classifier(settings)
    after = second.label_embeddings(["dog", "cat"])
    assert second.encoded_labels == 0
    assert (after[0] - before[1]).abs().max().item() == 0


def test_cache_is_per_template_list(settings: ClassifierSettings) -> None:
    create_classifier(settings).label_embeddings(["cat", "dog"])
    other = ClassifierSettings(**{**settings.__dict__, "templates": ("a {}",)})
    fresh = create_classifier(other)
    fresh.label_embeddings(["cat", "dog"])
    assert fresh.encoded_labels == 2


def test_damaged_cache_file_is_ignored(settings: ClassifierSettings) -> None:
    first = create_classifier(settings)
    first.label_embeddings(["cat", "dog"])
    assert first.cache.path is not None
    first.cache.path.write_bytes(b"not a cache")
    second = create_classifier(settings)
    second.label_embeddings(["cat", "dog"])
    assert second.encoded_labels == 2


def test_split_preprocessing_equals_open_clips_transform(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    from tests import pictures

    for image in (decode(sample(samples_dir, "cat"), ImageLimits()), pictures.half_and_half((90, 50))):
        expected = classifier.clip.preprocess(image)
        assert (classifier.preprocess(image) - expected).abs().max().item() < 1e-5


def test_cache_file_is_rewritten_at_most_every_interval(settings: ClassifierSettings) -> None:
    classifier = create_classifier(settings)
    classifier.label_embeddings(["cat", "dog"])
    classifier.label_embeddings(["owl", "bat"])
    assert classifier.cache.saves == 1  # the second batch waits for the interval (30 s) or close()
    classifier.close()
    assert classifier.cache.saves == 2
    reopened = create_classifier(settings)
    reopened.label_embeddings(["cat", "dog", "owl", "bat"])
    assert reopened.encoded_labels == 0


def test_long_strips_are_cut_to_their_centre_at_two_to_one() -> None:
    from classifier.pictures.crop import aspect_trim_box, trim_extreme_aspect

    assert aspect_trim_box(1000, 100) == (400, 0, 600, 100)
    assert aspect_trim_box(100, 1000) == (0, 400, 100, 600)
    assert aspect_trim_box(12_000, 8) == (5992, 0, 6008, 8)
    assert aspect_trim_box(201, 100) == (0, 0, 200, 100) and aspect_trim_box(100, 203) == (0, 1, 100, 201)
    for width, height in ((200, 100), (100, 200), (150, 100), (64, 64)):
        assert aspect_trim_box(width, height) is None  # 2:1 or squarer: kept whole
    # Red in the 2:1 centre, blue beyond it: only red is left, at 2:1.
    strip = Image.new("RGB", (1000, 100), (0, 0, 255))
    strip.paste((255, 0, 0), (400, 0, 600, 100))
    trimmed = trim_extreme_aspect(strip)
    assert trimmed.size == (200, 100)
    assert trimmed.getcolors() == [(200 * 100, (255, 0, 0))]
    assert trim_extreme_aspect(square := Image.new("RGB", (30, 20))) is square


def test_a_long_strip_is_prepared_from_its_centre(classifier: ZeroShotClassifier) -> None:
    strip = Image.new("RGB", (12_000, 8), (0, 0, 255))
    strip.paste((255, 0, 0), (5992, 0, 6008, 8))
    centre = strip.crop((5992, 0, 6008, 8))
    assert (classifier.prepare(strip) == classifier.prepare(centre)).all()
