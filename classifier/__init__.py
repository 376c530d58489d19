"""Zero-shot cartoon-animal classification with open_clip. Knows nothing of Telegram."""

from classifier.factory import create_classifier, create_worker, image_limits
from classifier.images import DamagedImage, ImageError, ImageLimits, ImageTooLarge, NotAnImage, decode_image
from classifier.inference import InternalError
from classifier.labels import (
    DEFAULT_LABELS,
    MAX_LABEL_CHARS,
    MAX_LABELS,
    MIN_LABELS,
    LabelError,
    parse_labels,
)
from classifier.model import ClipModel, ModelLoadError, load_model
from classifier.prompts import DEFAULT_TEMPLATES
from classifier.settings import ClassifierSettings, SettingsError
from classifier.worker import BatchWorker, WorkerBusy, WorkerStopped
from classifier.zeroshot import Prediction, ZeroShotClassifier

__all__ = [
    "DEFAULT_LABELS", "DEFAULT_TEMPLATES", "MAX_LABELS", "MAX_LABEL_CHARS", "MIN_LABELS",
    "BatchWorker", "ClassifierSettings", "ClipModel", "DamagedImage", "ImageError", "ImageLimits",
    "ImageTooLarge", "InternalError", "LabelError", "ModelLoadError", "NotAnImage", "Prediction", "SettingsError",
    "WorkerBusy", "WorkerStopped", "ZeroShotClassifier", "create_classifier", "create_worker",
    "decode_image", "image_limits", "load_model", "parse_labels",
]
