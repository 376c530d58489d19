"""Zero-shot cartoon-animal classification with open_clip. Knows nothing of Telegram.

Its rooms, lowest first; a room imports only the rooms below it (tests/test_imports.py):
``messages`` and ``lrustore`` (the ground), ``text``, ``pictures``, ``model``, ``openset`` and ``zeroshot``
(labels and pictures scored, with "none of these" answers when asked), ``batching`` (the worker), and on
top ``settings``, ``factory`` (the one place that wires the parts), ``cli``, ``evaluation`` and ``bench``.
"""

from classifier.batching.inference import InternalError
from classifier.batching.worker import BatchWorker, LabelsWaiting, WorkerBusy, WorkerStopped
from classifier.factory import create_classifier, create_worker, image_limits
from classifier.model.clip import ClipModel, load_model
from classifier.model.patchmap import MapUnsupported
from classifier.model.spec import ModelLoadError
from classifier.pictures.images import DamagedImage, ImageError, ImageLimits, ImageTooLarge, NotAnImage, decode_image
from classifier.pictures.overlay import Overlay
from classifier.settings import ClassifierSettings, SettingsError
from classifier.text.labels import (
    DEFAULT_LABELS,
    MAX_LABEL_CHARS,
    MAX_LABELS,
    MIN_LABELS,
    LabelError,
    parse_labels,
)
from classifier.text.prompts import DEFAULT_TEMPLATES
from classifier.zeroshot import Prediction, ZeroShotClassifier

__all__ = [
    "DEFAULT_LABELS", "DEFAULT_TEMPLATES", "MAX_LABELS", "MAX_LABEL_CHARS", "MIN_LABELS",
    "BatchWorker", "ClassifierSettings", "ClipModel", "DamagedImage", "ImageError", "ImageLimits",
    "ImageTooLarge", "InternalError", "LabelError", "LabelsWaiting", "MapUnsupported", "ModelLoadError",
    "NotAnImage", "Overlay", "Prediction", "SettingsError",
    "WorkerBusy", "WorkerStopped", "ZeroShotClassifier", "create_classifier", "create_worker",
    "decode_image", "image_limits", "load_model", "parse_labels",
]
