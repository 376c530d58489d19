"""JPEGs decoded by torchvision on the model's device agree with the Pillow path (run here on the CPU)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from classifier import ClassifierSettings, ImageError, ImageLimits, Prediction, ZeroShotClassifier, decode_image
from classifier.pictures.devicedecode import DeviceJpegDecoder, read_jpeg_header
from tests import pictures
from tests.fuzz_corpus import corpus
from tests.test_hostile import one_sentence
from tests.test_worker import make_worker

LIMITS = ImageLimits()


def held_out_jpegs(samples_dir: Path) -> list[tuple[str, bytes]]:
    """Every held-out sample of an animal as a JPEG, some larger than the model's input and some EXIF-rotated."""
    found = []
    for i, path in enumerate(sorted(p for p in samples_dir.glob("*/*.png") if p.parent.name != "other")):
        image = Image.open(path).convert("RGB")
        if i % 3 == 1:
            image = image.resize((96, 80), Image.Resampling.BICUBIC)
        if i % 3 == 2:  # stored turned, with the orientation that turns it back
            exif = Image.Exif()
            exif[0x0112] = 6
            data = pictures.encode(image.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95,
                                   exif=exif.tobytes())
        else:
            data = pictures.encode(image, "JPEG", quality=95)
        found.append((path.parent.name, data))
    return found


def test_device_decoding_agrees_with_pillow(classifier: ZeroShotClassifier, samples_dir: Path) -> None:
    samples = held_out_jpegs(samples_dir)
    decoder = DeviceJpegDecoder(classifier.clip.device, classifier.picture_steps)
    headers = [read_jpeg_header(data, LIMITS) for _, data in samples]
    assert all(header is not None for header in headers)
    on_device = decoder.decode(headers)  # type: ignore[arg-type]
    assert all(isinstance(p, torch.Tensor) for p in on_device)
    by_pillow = [classifier.prepare(decode_image(data, LIMITS, classifier.image_size)) for _, data in samples]
    labels = sorted({label for label, _ in samples})
    run = classifier.executor.submit
    device_features = run(classifier.encode_pictures, on_device).result()
    pillow_features = run(classifier.encode_pictures, by_pillow).result()
    cosine = (device_features * pillow_features).sum(dim=-1)
    device_top = [p.label for p in classifier.score_many(device_features, labels)]
    pillow_top = [p.label for p in classifier.score_many(pillow_features, labels)]
    same = sum(a == b for a, b in zip(device_top, pillow_top, strict=True)) / len(samples)
    print(f"\ndevice vs Pillow decoding on {len(samples)} held-out JPEGs: top-1 identical {same:.1%}, "
          f"cosine min {cosine.min():.4f}, mean {cosine.mean():.4f}")
    assert same >= 0.99
    assert cosine.min().item() >= 0.99
    assert np.mean([t == label for t, (label, _) in zip(device_top, samples, strict=True)]) >= 0.9


def test_the_header_is_checked_before_decoding() -> None:
    from classifier import ImageTooLarge

    big = pictures.encode(Image.new("RGB", (400, 300)), "JPEG")
    try:
        read_jpeg_header(big, ImageLimits(max_pixels=100_000))
    except ImageTooLarge as exc:
        assert "400×300" in str(exc)
    else:
        raise AssertionError("a picture over the pixel limit was let through")
    assert read_jpeg_header(pictures.cmyk_jpeg(), LIMITS) is None  # CMYK: the Pillow path converts it
    assert read_jpeg_header(pictures.encode(Image.new("RGB", (8, 8)), "PNG"), LIMITS) is None


async def test_the_worker_decodes_jpegs_on_the_device(settings: ClassifierSettings, classifier: ZeroShotClassifier,
                                                      samples_dir: Path) -> None:
    worker = make_worker(settings, classifier, decode_on_device="on")
    try:
        samples = held_out_jpegs(samples_dir)
        predictions = await asyncio.gather(*(worker.classify(data, sorted(DEFAULTS)) for _, data in samples))
        right = sum(p.label == label for p, (label, _) in zip(predictions, samples, strict=True))
        assert right >= 0.9 * len(samples)
        # Every one of them went through the device path: a silent fall back to Pillow would give the
        # same answers. (The worker shows its decoder only as a private attribute.)
        decoder = worker.device_decoder
        assert decoder is not None and decoder.decoded == len(samples)
        pillow_only = make_worker(settings, classifier, decode_on_device="off")
        assert pillow_only.device_decoder is None
        await pillow_only.stop()
        # Hostile JPEGs on the new path: each gets a prediction or one sentence, and no neighbour suffers.
        jpegs = [data for name, data in corpus() if name.startswith("jpeg")]
        outcomes = await asyncio.gather(*(worker.classify(data, sorted(DEFAULTS)) for data in jpegs),
                                        return_exceptions=True)
        for outcome in outcomes:
            refused = isinstance(outcome, ImageError) and one_sentence(str(outcome))
            assert isinstance(outcome, Prediction) or refused, outcome
        assert sum(isinstance(o, Prediction) for o in outcomes) > 20
    finally:
        await worker.stop()


DEFAULTS = ("cat", "dog", "fox", "bear", "rabbit", "mouse", "duck", "pig", "lion", "elephant")
