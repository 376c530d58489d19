"""The classifier's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from classifier.pictures.cache import DEFAULT_ENTRIES as DEFAULT_IMAGE_CACHE_ENTRIES
from classifier.text.labels import DEFAULT_LABELS, LabelError, parse_labels
from classifier.text.prompts import DEFAULT_TEMPLATES, TemplateError, check_templates

T = TypeVar("T")

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
TEMPLATE_SEPARATOR = "|"


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names it."""


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_decode_threads(device: str, cores: int | None = None) -> int:
    """On a GPU, one per core up to 8, less one for the event loop: decoding feeds a fast model.
    On a CPU the model is about ten times slower than decoding (README, Performance), so one
    thread per four cores: more would only take cores from the model and the event loop."""
    cores = cores or os.cpu_count() or 2
    if device.startswith("cuda"):
        return max(1, min(8, cores - 1))
    return max(1, cores // 4)


def default_batch_size(device: str) -> int:
    """32 on a CPU (a batch there already takes about a second); 128 on a GPU, where the encoder ran
    about 40% faster at 128 than at 32 on an H100 (issue "The GPU worker at the hardware's speed")."""
    return 128 if device.startswith("cuda") else 32


@dataclass(frozen=True)
class ClassifierSettings:
    """Everything the classifier can be told; see .env.example for each one."""

    model: str = "ViT-B-32-256"
    pretrained: str = "datacomp_s34b_b86k"
    device: str = field(default_factory=default_device)
    precision: str = "auto"
    templates: tuple[str, ...] = DEFAULT_TEMPLATES
    default_labels: tuple[str, ...] = DEFAULT_LABELS
    cache_dir: Path = Path("data/cache")
    text_cache_entries: int = 20_000
    labels_waiting_per_chat: int = 64  # new labels one owner (a chat) may have waiting for the encoder; 0: no cap
    image_cache_entries: int = DEFAULT_IMAGE_CACHE_ENTRIES  # pictures' embeddings (about 100 MB for a ViT-B)
    max_image_bytes: int = 20 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_decode_bytes: int = 300 * 2**20  # decode memory shared by every decode thread
    batch_max_size: int = 0  # 0: default_batch_size(device)
    batch_max_wait_ms: float = 10.0
    queue_size: int = 0  # 0: at least 256, and four batches
    decode_threads: int = 0  # 0: default_decode_threads(device)
    decode_on_device: str = "auto"  # JPEGs through torchvision on the model's device: auto (on a GPU), on, off

    def __post_init__(self) -> None:
        if self.decode_threads < 1:
            object.__setattr__(self, "decode_threads", default_decode_threads(self.device))
        if self.batch_max_size < 1:
            object.__setattr__(self, "batch_max_size", default_batch_size(self.device))
        if self.queue_size < 1:
            object.__setattr__(self, "queue_size", max(256, 4 * self.batch_max_size))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ClassifierSettings:
        """Build settings from a mapping of environment variables (read_environment()); unset ones keep
        their defaults."""
        defaults = cls()
        get = EnvReader(env)
        precision = get.choice("CLIP_PRECISION", defaults.precision, PRECISIONS)
        return cls(
            model=get.text("CLIP_MODEL", defaults.model),
            pretrained=get.text("CLIP_PRETRAINED", defaults.pretrained),
            device=get.text("CLIP_DEVICE", defaults.device),
            precision=precision,
            templates=get.parsed("CLIP_TEMPLATES", defaults.templates, _parse_templates),
            default_labels=get.parsed("DEFAULT_LABELS", defaults.default_labels, parse_labels),
            cache_dir=Path(get.text("CACHE_DIR", str(defaults.cache_dir))),
            text_cache_entries=get.number("TEXT_CACHE_ENTRIES", defaults.text_cache_entries, int, 1),
            image_cache_entries=get.number("IMAGE_CACHE_ENTRIES", defaults.image_cache_entries, int, 1),
            labels_waiting_per_chat=get.number("LABELS_WAITING_PER_CHAT", defaults.labels_waiting_per_chat, int, 0),
            max_image_bytes=int(get.number("MAX_IMAGE_MB", defaults.max_image_bytes / 2**20, float, 0.001)
                                * 2**20),
            max_image_pixels=int(
                get.number("MAX_IMAGE_MEGAPIXELS", defaults.max_image_pixels / 1e6, float, 0.001) * 1e6
            ),
            max_decode_bytes=int(get.number("DECODE_MEMORY_MB", defaults.max_decode_bytes / 2**20, float, 1)
                                 * 2**20),
            batch_max_size=get.number("BATCH_MAX_SIZE", 0, int, 1),
            batch_max_wait_ms=get.number("BATCH_MAX_WAIT_MS", defaults.batch_max_wait_ms, float, 0),
            queue_size=get.number("QUEUE_SIZE", 0, int, 1),
            decode_threads=get.number("DECODE_THREADS", 0, int, 1),
            decode_on_device=get.choice("DECODE_ON_DEVICE", defaults.decode_on_device, ("auto", "on", "off")),
        )


def _parse_templates(text: str) -> tuple[str, ...]:
    templates = tuple(t.strip() for t in text.split(TEMPLATE_SEPARATOR) if t.strip())
    return check_templates(templates)


class EnvReader:
    """Typed access to an environment mapping, with errors that name the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str, default: str) -> str:
        value = self._env.get(name, "").strip()
        return value or default

    def number(self, name: str, default: T, cast: Callable[[str], T], minimum: float) -> T:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = cast(raw)
        except ValueError:
            kind = "a whole number" if cast is int else "a number"
            raise SettingsError(f"{name} must be {kind}, not '{raw}'.") from None
        if value < minimum:  # type: ignore[operator]
            raise SettingsError(f"{name} must be at least {minimum}, not {raw}.")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default).lower()
        if value not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not '{value}'.")
        return value

    def parsed(self, name: str, default: T, parse: Callable[[str], T]) -> T:
        raw = self._env.get(name, "").strip()
        if not raw:
            return default
        try:
            return parse(raw)
        except (LabelError, TemplateError) as exc:
            raise SettingsError(f"{name}: {exc}") from exc


def read_environment(dotenv: Path | None = Path(".env")) -> dict[str, str]:
    """The process environment over the values of a .env file (the environment wins)."""
    from dotenv import dotenv_values

    values: dict[str, str] = {}
    if dotenv is not None and dotenv.is_file():
        values.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
    values.update(os.environ)
    return values
