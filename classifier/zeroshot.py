"""Zero-shot classification: label embeddings from prompt ensembles, and scoring."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from classifier.model import ClipModel
from classifier.prompts import expand
from classifier.textcache import TextEmbeddingCache


@dataclass(frozen=True)
class Prediction:
    """Every label with its probability, most likely first."""

    ranking: tuple[tuple[str, float], ...]

    @property
    def label(self) -> str:
        return self.ranking[0][0]

    @property
    def probability(self) -> float:
        return self.ranking[0][1]

    def top(self, k: int) -> tuple[tuple[str, float], ...]:
        return self.ranking[:k]


class ZeroShotClassifier:
    """Scores images against any label set, encoding each label's prompts once."""

    def __init__(self, clip: ClipModel, templates: tuple[str, ...], cache: TextEmbeddingCache) -> None:
        self.clip = clip
        self.templates = templates
        self.cache = cache
        self.encoded_labels = 0  # labels whose prompts went through the text encoder
        self._encode_lock = threading.Lock()

    @property
    def image_size(self) -> int:
        return self.clip.image_size

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """An RGB image to the model's input tensor (3, S, S), float32."""
        return self.clip.preprocess(image)

    def label_embeddings(self, labels: Sequence[str]) -> torch.Tensor:
        """(L, D) normalised embeddings: the renormalised mean of each label's template embeddings."""
        found = {label: self.cache.get(label) for label in labels}
        missing = [label for label, vector in found.items() if vector is None]
        if missing:
            with self._encode_lock:
                new = self._encode(missing)
            self.cache.put_many(new)
            found.update(new)
        return torch.stack([found[label] for label in labels])  # type: ignore[misc]

    def _encode(self, labels: list[str]) -> dict[str, torch.Tensor]:
        n = len(self.templates)
        sentences = [s for label in labels for s in expand(label, self.templates)]
        features = self.clip.encode_texts(sentences).view(len(labels), n, -1)
        means = torch.nn.functional.normalize(features.mean(dim=1), dim=-1)
        self.encoded_labels += len(labels)
        return {label: means[i].clone() for i, label in enumerate(labels)}

    def score(self, image_features: torch.Tensor, labels: Sequence[str]) -> Prediction:
        """One image's (D,) features against a label set."""
        logits = self.clip.logit_scale * image_features @ self.label_embeddings(labels).T
        probabilities = logits.softmax(dim=-1).tolist()
        ranking = sorted(zip(labels, probabilities, strict=True), key=lambda pair: -pair[1])
        return Prediction(tuple(ranking))

    def classify_images(self, images: Sequence[Image.Image], labels: Sequence[str]) -> list[Prediction]:
        """Synchronous convenience: decoded images to predictions, one batch."""
        batch = torch.stack([self.preprocess(image) for image in images])
        features = self.clip.encode_images(batch)
        return [self.score(f, labels) for f in features]
