"""Assembling the classifier from settings: the one place that wires its parts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from classifier.batching.observer import WorkerObserver
from classifier.batching.worker import BatchWorker
from classifier.model.clip import load_model
from classifier.pictures.cache import ImageEmbeddingCache
from classifier.pictures.images import ImageLimits
from classifier.settings import ClassifierSettings
from classifier.text.cache import TextEmbeddingCache
from classifier.text.prompts import language_templates
from classifier.zeroshot import ZeroShotClassifier, picture_identity


def create_classifier(settings: ClassifierSettings, *, keep_pictures: bool = True) -> ZeroShotClassifier:
    """Load the model (on the thread that will run it) and open its caches.

    The image-embedding cache has a file in CACHE_DIR when keep_pictures is set (the bot); the
    command line keeps it in memory for one run. Random weights differ in every run: never a file.
    """
    executor = ThreadPoolExecutor(1, thread_name_prefix="toonclip-model")

    def build() -> ZeroShotClassifier:
        clip = load_model(settings.model, settings.pretrained, settings.device, settings.precision)
        cache_file = TextEmbeddingCache.file_for(settings.cache_dir, clip.identity,
                                                 (*settings.templates, *language_templates()))
        cache = TextEmbeddingCache(cache_file, settings.text_cache_entries)
        identity = picture_identity(clip)
        images_file = (ImageEmbeddingCache.file_for(settings.cache_dir, identity)
                       if keep_pictures and settings.pretrained else None)
        images = ImageEmbeddingCache(images_file, identity, settings.image_cache_entries)
        classifier = ZeroShotClassifier(clip, settings.templates, cache, executor, images)
        classifier.warm_up()
        return classifier

    try:
        return executor.submit(build).result()
    except BaseException:
        executor.shutdown()
        raise


def image_limits(settings: ClassifierSettings) -> ImageLimits:
    return ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels,
                       max_decode_bytes=settings.max_decode_bytes)


def create_worker(settings: ClassifierSettings, classifier: ZeroShotClassifier,
                  observer: WorkerObserver | None = None) -> BatchWorker:
    """A batching worker over the classifier, reporting to observer (the bot's metrics); call start()
    inside the event loop."""
    return BatchWorker(
        classifier,
        image_limits(settings),
        observer=observer or WorkerObserver(),
        max_batch=settings.batch_max_size,
        max_wait_ms=settings.batch_max_wait_ms,
        queue_size=settings.queue_size,
        decode_threads=settings.decode_threads,
        labels_waiting_per_owner=settings.labels_waiting_per_chat,
        decode_on_device=settings.decode_on_device == "on"
        or (settings.decode_on_device == "auto" and settings.device.startswith("cuda")),
    )
