"""Zero-shot classification: label embeddings from prompt ensembles (a label in another language read
through its English name by an English-only model), and scoring (with "none of these" answers when
asked: classifier/openset.py)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import Normalize

from classifier.model.clip import ClipModel
from classifier.model.patchmap import patch_embeddings
from classifier.openset import OPEN_SET_THRESHOLD, CompetingNegatives, neglabel_scores
from classifier.pictures.cache import ImageEmbeddingCache
from classifier.pictures.crop import MAX_ASPECT, trim_extreme_aspect
from classifier.text.cache import TextEmbeddingCache
from classifier.text.lexicon import english_name
from classifier.text.negatives import NEGATIVE_LABELS
from classifier.text.prompts import expand, templates_for


@dataclass(frozen=True)
class Prediction:
    """Every label with its probability, most likely first. Asked for an open-set answer, also the
    NegLabel score (the share of the mass on the labels against the negatives, classifier/openset.py)
    and whether the picture shows none of the labels; the ranking is then the closest label's guess."""

    ranking: tuple[tuple[str, float], ...]
    open_set_score: float | None = None  # None: no open-set answer was asked for
    none_of_these: bool = False

    @property
    def label(self) -> str:
        return self.ranking[0][0]

    @property
    def probability(self) -> float:
        return self.ranking[0][1]

    def top(self, k: int) -> tuple[tuple[str, float], ...]:
        return self.ranking[:k]

    @property
    def open_probability(self) -> float:
        """The top label's share of the mass against its labels and the negatives together: what is
        left of its probability once "none of these" is a possible answer (its probability without one)."""
        return self.probability * (1.0 if self.open_set_score is None else self.open_set_score)


def split_preprocess(
    transform: Callable[[Image.Image], torch.Tensor],
) -> tuple[list[Callable[[Image.Image], Image.Image]], torch.Tensor, torch.Tensor]:
    """open_clip's transform as (picture steps, mean, std): resizing and cropping run on
    Pillow in any thread; to-tensor and normalisation run batched on the model's thread."""
    steps = list(getattr(transform, "transforms", [transform]))
    names = [type(step).__name__ for step in steps]
    cut = next((i for i, name in enumerate(names) if "ToTensor" in name), None)
    if cut is None or len(steps) != cut + 2 or not isinstance(steps[-1], Normalize):
        raise ValueError(f"Unexpected preprocessing {names}: expected picture steps, ToTensor, Normalize.")
    normalize = steps[-1]
    mean = torch.tensor(normalize.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(normalize.std, dtype=torch.float32).view(1, 3, 1, 1)
    return steps[:cut], mean, std


def picture_identity(clip: ClipModel) -> str:
    """What made an image embedding: the model and its weights, the preprocessing (transforms,
    mean and std, the long-strip trim) and the precision. Embeddings are only reused under the same."""
    steps = re.sub(r" at 0x[0-9a-fA-F]+", "", repr(clip.preprocess))  # a function's repr names its address
    return f"{clip.identity}|{clip.dtype}|{steps}|aspect<={MAX_ASPECT}"


class LabelsNotCached(LookupError):
    """Labels a picture was to be scored against are not in the text cache (evicted meanwhile)."""

    def __init__(self, labels: list[str]) -> None:
        super().__init__(f"{len(labels)} labels are not encoded: {labels[:3]}")
        self.labels = labels


class ZeroShotClassifier:
    """Scores images against any label set, encoding each label's prompts once.

    Torch work belongs on `executor`, one thread: on a small CPU, torch running in several
    threads at once makes every OpenMP team slower (README, Performance). The worker keeps to
    that. The synchronous conveniences (label_embeddings, classify_images) may also be called
    from another thread, by the command line or a test; a lock keeps two text encodings from
    interleaving their writes to the cache.
    """

    def __init__(self, clip: ClipModel, templates: tuple[str, ...], cache: TextEmbeddingCache,
                 executor: ThreadPoolExecutor | None = None, images: ImageEmbeddingCache | None = None,
                 negatives: tuple[str, ...] = NEGATIVE_LABELS) -> None:
        self.clip = clip
        self.templates = templates
        self.cache = cache
        self.negatives = negatives  # encoded and cached like any label (needed_labels)
        self._competing = CompetingNegatives(negatives)
        self._negative_matrix: torch.Tensor | None = None  # (M, D), kept once every negative was encoded
        # Pictures seen before, by key (the worker's); in memory only unless the factory gives it a file.
        self.images = images if images is not None else ImageEmbeddingCache(None, picture_identity(clip))
        self.executor = executor or ThreadPoolExecutor(1, thread_name_prefix="toonclip-model")
        self.encoded_labels = 0  # labels whose prompts went through the text encoder
        self.warmup_ms = 0.0
        self._encode_lock = threading.Lock()
        self.picture_steps, mean, std = split_preprocess(clip.preprocess)
        self._scale, self._shift = 1 / (255 * std), -mean / std

    @property
    def image_size(self) -> int:
        return self.clip.image_size

    def warm_up(self) -> None:
        """Run both encoders once, so the first user does not pay for a cold device (CUDA's lazy
        start-up costs seconds). Model thread only."""
        started = time.perf_counter()
        self.encode_pictures([np.zeros((self.image_size, self.image_size, 3), dtype=np.uint8)])
        self.clip.encode_texts(["a warm-up"])
        self.warmup_ms = (time.perf_counter() - started) * 1000

    def close(self) -> None:
        """Finish queued torch work, save both caches and release the model thread."""
        self.executor.submit(self.cache.flush)
        self.executor.shutdown(wait=True)
        self.images.close()

    def prepare(self, image: Image.Image) -> np.ndarray:
        """Resize and crop an RGB image for the model: (S, S, 3) uint8. Safe in any thread."""
        image = trim_extreme_aspect(image)
        for step in self.picture_steps:
            image = step(image)
        return np.asarray(image.convert("RGB"), dtype=np.uint8)

    def to_batch(self, pictures: Sequence[np.ndarray | torch.Tensor]) -> torch.Tensor:
        """Prepared pictures to the normalised float32 batch (N, 3, S, S) the model reads, on its device.

        The pictures travel as uint8 (a quarter of the bytes of float32), from pinned memory on a
        GPU so the copy is truly asynchronous; conversion and normalisation happen on the device.
        """
        device = self.clip.device
        on_host = [p for p in pictures if isinstance(p, np.ndarray)]
        if len(on_host) == len(pictures):
            pixels = torch.from_numpy(np.stack(on_host))
            if device.type == "cuda":
                pixels = pixels.pin_memory().to(device, non_blocking=True)
        else:  # some were decoded on the device already
            pixels = torch.stack([torch.from_numpy(p).to(device) if isinstance(p, np.ndarray) else p
                                  for p in pictures])
        if self._scale.device != device:
            self._scale, self._shift = self._scale.to(device), self._shift.to(device)
        # (x / 255 - mean) / std as one fused multiply-add, x * (1 / (255 std)) - mean / std, in the
        # contiguous layout the first convolution is fastest on (7% more images/s than channels-last here).
        planar = pixels.permute(0, 3, 1, 2).contiguous().float()
        return torch.addcmul(self._shift, planar, self._scale)

    def encode_pictures(self, pictures: Sequence[np.ndarray | torch.Tensor]) -> torch.Tensor:
        """Prepared pictures to normalised image features (N, D). Model thread only."""
        return self.clip.encode_images(self.to_batch(pictures))

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """An RGB image to the model's input tensor (3, S, S), float32, on the CPU."""
        return self.to_batch([self.prepare(image)])[0].cpu()

    def reading(self, label: str) -> str:
        """The text the model reads for a label, and the text cache's key for it: a label the lexicon
        knows in another language (zorro, лисиця) by its English name (fox) when the model reads English
        only; any other label, and every label of a multilingual model, as it is. Reading a reading
        gives it back unchanged. The answer still names the label as the chat wrote it."""
        if self.clip.multilingual:
            return label
        return english_name(label) or label

    def needed_labels(self, labels: Sequence[str], open_set: bool) -> tuple[str, ...]:
        """The labels a picture's answer needs encoded: its own, and with open_set the negatives unless
        they are kept already (prepare_negatives)."""
        return (*labels, *self.negatives) if open_set and self._negative_matrix is None else tuple(labels)

    def prepare_negatives(self) -> None:
        """Encode the negative labels (once per model: the text cache keeps them like any label) and
        keep their matrix, so that an open-set answer costs one more matrix product. Model thread only."""
        if self._negative_matrix is None:
            self._negative_matrix = self.label_embeddings(self.negatives)

    def missing(self, labels: Sequence[str]) -> list[str]:
        """The readings (see reading) of labels whose embeddings are not cached yet, each once, in
        order: what encode_labels must be given. Safe in any thread."""
        readings = dict.fromkeys(self.reading(label) for label in labels)
        return [text for text in readings if self.cache.get(text) is None]

    def encode_labels(self, labels: Sequence[str]) -> None:
        """Encode labels (or their readings) through every template and cache them. Model thread only."""
        texts = list(dict.fromkeys(self.reading(label) for label in labels))
        if texts:
            with self._encode_lock:
                self.cache.put_many(self._encode(texts))

    def label_embeddings(self, labels: Sequence[str]) -> torch.Tensor:
        """(L, D) normalised embeddings: the renormalised mean of each label's template embeddings."""
        texts = [self.reading(label) for label in labels]
        found = {text: self.cache.get(text) for text in texts}
        missing = [text for text, vector in found.items() if vector is None]
        if missing:
            with self._encode_lock:
                new = self._encode(missing)
            self.cache.put_many(new)
            found.update(new)
        return torch.stack([found[text] for text in texts])  # type: ignore[misc]

    def _encode(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Readings to their embeddings, each the mean over its language's templates."""
        per_text = [expand(text, templates_for(text, self.templates)) for text in texts]
        features = self.clip.encode_texts([s for sentences in per_text for s in sentences])
        groups = features.split([len(sentences) for sentences in per_text])
        self.encoded_labels += len(texts)
        return {text: torch.nn.functional.normalize(group.mean(dim=0), dim=-1)
                for text, group in zip(texts, groups, strict=True)}

    def score(self, image_features: torch.Tensor, labels: Sequence[str], open_set: bool = False) -> Prediction:
        """One image's (D,) features against a label set."""
        return self.score_many(image_features[None], labels, open_set)[0]

    def score_many(self, image_features: torch.Tensor, labels: Sequence[str],
                   open_set: bool = False) -> list[Prediction]:
        """(N, D) image features against one label set: one matrix product for all of them (and one
        more against the negatives with open_set; classifier/openset.py).

        CLIP's probabilities are a softmax over the label set. A SigLIP model (one with a logit
        bias) was trained with a sigmoid per label: each probability is that label's own, and they
        need not add up to one.
        """
        if open_set:
            self.prepare_negatives()
        return self._rank(image_features, self.label_embeddings(labels), tuple(labels),
                          self._negative_matrix if open_set else None)

    def score_cached(self, image_features: torch.Tensor, labels: Sequence[str],
                     open_set: bool = False) -> list[Prediction]:
        """score_many for labels (and with open_set, negatives) that must be cached already: never
        encodes text (the worker's image batches call it); raises LabelsNotCached naming those that
        are not."""
        if open_set and self._negative_matrix is None:
            self._negative_matrix = self._cached_matrix(self.negatives)
        label_features = self._cached_matrix(labels)
        return self._rank(image_features, label_features, tuple(labels), self._negative_matrix if open_set else None)

    def _cached_matrix(self, labels: Sequence[str]) -> torch.Tensor:
        """The labels' embeddings, read through the lexicon (reading); raises LabelsNotCached naming the
        readings that are not cached."""
        texts = [self.reading(label) for label in labels]
        found = [self.cache.get(text) for text in texts]
        missing = [text for text, vector in zip(texts, found, strict=True) if vector is None]
        if missing:
            raise LabelsNotCached(missing)
        return torch.stack(found)  # type: ignore[arg-type]

    def _rank(self, image_features: torch.Tensor, label_features: torch.Tensor, labels: tuple[str, ...],
              negative_features: torch.Tensor | None) -> list[Prediction]:
        logits = self.clip.logit_scale * image_features @ label_features.T
        if self.clip.logit_bias is None:
            probabilities_of = logits.softmax(dim=-1)
        else:
            probabilities_of = (logits + self.clip.logit_bias).sigmoid()
        scores: list[float | None] = [None] * len(logits)
        if negative_features is not None:
            competing = negative_features[self._competing.indices(labels, label_features, negative_features)]
            scores = neglabel_scores(logits, self.clip.logit_scale * image_features @ competing.T).tolist()
        predictions = []
        for probabilities, score in zip(probabilities_of.tolist(), scores, strict=True):
            ranking = sorted(zip(labels, probabilities, strict=True), key=lambda pair: -pair[1])
            none = score is not None and score < OPEN_SET_THRESHOLD
            predictions.append(Prediction(tuple(ranking), open_set_score=score, none_of_these=none))
        return predictions

    def patch_map(self, picture: np.ndarray, labels: Sequence[str], label: str) -> np.ndarray:
        """Where a prepared picture looks like label: (rows, columns) float32, each patch's probability
        of label against the other labels (a softmax per patch, as MaskCLIP labels each pixel).
        Model thread only; raises LabelsNotCached, and MapUnsupported for a model without patch tokens."""
        texts = [self.reading(name) for name in labels]
        found = [self.cache.get(text) for text in texts]
        missing = [text for text, vector in zip(texts, found, strict=True) if vector is None]
        if missing:
            raise LabelsNotCached(missing)
        pixels = self.to_batch([picture]).to(dtype=self.clip.dtype)
        patches = patch_embeddings(self.clip.model, pixels)[0]  # (rows, columns, D)
        logits = self.clip.logit_scale * patches @ torch.stack(found).T  # type: ignore[arg-type]
        return logits.softmax(dim=-1)[..., list(labels).index(label)].numpy().astype(np.float32)

    def classify_images(self, images: Sequence[Image.Image], labels: Sequence[str],
                        open_set: bool = False) -> list[Prediction]:
        """Synchronous convenience: decoded images to predictions, one batch."""
        return self.score_many(self.encode_pictures([self.prepare(image) for image in images]), labels, open_set)
