"""Which model to load: an open_clip name or a config file, its weights (a tag or a checkpoint file),
and the precision it runs in, resolved before anything is built."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import open_clip
import torch

logger = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode", "fill_color")
MULTILINGUAL_MARKS = ("xlm", "i18n", "multilingual", "mt5")


class ModelLoadError(RuntimeError):
    """The model could not be loaded; the message says what to change."""


@dataclass(frozen=True)
class ModelSpec:
    """What open_clip is asked to build, resolved from CLIP_MODEL and CLIP_PRETRAINED."""

    name: str
    pretrained: str | None
    quick_gelu: bool = False
    preprocess: dict[str, Any] = field(default_factory=dict)
    identity: str = ""
    multilingual: bool = False


def is_path(value: str) -> bool:
    return value.endswith((".json", *CHECKPOINT_SUFFIXES)) or os.sep in value or value.startswith(".")


def _register_config(path: Path) -> tuple[str, dict[str, Any]]:
    """Register a model-config JSON with open_clip under a name of its own.

    Accepts open_clip's plain config (embed_dim, vision_cfg, text_cfg) and the hub
    layout ({"model_cfg": ..., "preprocess_cfg": ...}); returns the name and the
    preprocessing the file asks for.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelLoadError(f"CLIP_MODEL points at {path}, which does not exist.") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"CLIP_MODEL file {path} is not a readable JSON model config: {exc}") from exc
    model_cfg = raw.get("model_cfg", raw) if isinstance(raw, dict) else None
    if not isinstance(model_cfg, dict) or not {"embed_dim", "vision_cfg", "text_cfg"} <= model_cfg.keys():
        raise ModelLoadError(f"CLIP_MODEL file {path} needs embed_dim, vision_cfg and text_cfg.")
    preprocess = {k: v for k, v in raw.get("preprocess_cfg", {}).items() if k in _PREPROCESS_KEYS}
    text_cfg = model_cfg.get("text_cfg", {})
    tokenizer = text_cfg.get("hf_tokenizer_name") if isinstance(text_cfg, dict) else None
    if isinstance(tokenizer, str) and (path.parent / tokenizer).is_dir():
        text_cfg["hf_tokenizer_name"] = str((path.parent / tokenizer).resolve())  # a tokenizer folder beside it
    text = json.dumps(model_cfg, sort_keys=True)
    name = f"toonclip-{path.stem}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"
    folder = Path(tempfile.mkdtemp(prefix="toonclip-config-"))
    (folder / f"{name}.json").write_text(text, encoding="utf-8")
    open_clip.add_model_config(folder / f"{name}.json")
    return name, preprocess


def _file_identity(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def reads_many_languages(name: str) -> bool:
    """Whether a registered model's text side is multilingual (XLM-RoBERTa, an i18n tokenizer, ...)."""
    config = open_clip.get_model_config(name) or {}
    described = (name + json.dumps(config.get("text_cfg", {}))).lower()
    return any(mark in described for mark in MULTILINGUAL_MARKS)


def resolve_spec(model: str, pretrained: str) -> ModelSpec:
    """Turn the two settings into what to build, or explain what is wrong with them."""
    spec = _resolve_spec(model, pretrained)
    return replace(spec, multilingual=reads_many_languages(spec.name))


def _resolve_spec(model: str, pretrained: str) -> ModelSpec:
    preprocess: dict[str, Any] = {}
    if model.endswith(".json"):
        name, preprocess = _register_config(Path(model))
        model_identity = _file_identity(Path(model))
    else:
        name = model.replace("/", "-")
        if name not in open_clip.list_models():
            raise ModelLoadError(
                f"CLIP_MODEL '{model}' is neither a known open_clip model nor a path to a config JSON."
            )
        model_identity = name
    if not pretrained:
        return ModelSpec(name, None, preprocess=preprocess, identity=f"{model_identity}|random")
    if is_path(pretrained):
        path = Path(pretrained)
        if not path.is_file():
            raise ModelLoadError(f"CLIP_PRETRAINED points at {path}, which is not a file.")
        if path.suffix not in CHECKPOINT_SUFFIXES:
            raise ModelLoadError(
                f"CLIP_PRETRAINED file {path} must end in one of {', '.join(CHECKPOINT_SUFFIXES)}."
            )
        if not preprocess:
            preprocess = _tag_preprocess(name)
        return ModelSpec(name, str(path), preprocess=preprocess,
                         identity=f"{model_identity}|{_file_identity(path)}")
    tags = open_clip.list_pretrained_tags_by_model(name)
    if pretrained not in tags:
        known = ", ".join(tags) if tags else "none"
        raise ModelLoadError(
            f"CLIP_PRETRAINED '{pretrained}' is not a known tag for {name} (known: {known}); "
            "it may also be a path to a local .pt, .bin or .safetensors checkpoint."
        )
    tag_cfg = open_clip.get_pretrained_cfg(name, pretrained)
    preprocess = {k: tag_cfg[k] for k in _PREPROCESS_KEYS if k in tag_cfg}
    # openai weights were trained with QuickGELU; open_clip only warns when the
    # architecture does not match, and the model then quietly scores worse.
    quick_gelu = bool(tag_cfg.get("quick_gelu", False))
    return ModelSpec(name, pretrained, quick_gelu=quick_gelu, preprocess=preprocess,
                     identity=f"{model_identity}|{pretrained}")


def _tag_preprocess(name: str) -> dict[str, Any]:
    """The preprocessing of a built-in model's published weights, for a local copy of them."""
    for tag in open_clip.list_pretrained_tags_by_model(name):
        cfg = open_clip.get_pretrained_cfg(name, tag)
        found = {k: cfg[k] for k in _PREPROCESS_KEYS if k in cfg}
        if found:
            return found
    return {}


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU multiplies bf16 in hardware (AMX or AVX-512 BF16); Linux only."""
    try:
        flags = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> torch.dtype:
    """'auto': fp16 on a GPU; on a CPU bf16 where the hardware does bf16 (4x faster than fp32
    there, same top-1), else fp32 (emulated bf16 is slower). README, Performance."""
    if precision == "auto":
        precision = ("bf16" if cpu_has_native_bf16(cpuinfo) else "fp32") if device == "cpu" else "fp16"
    return _DTYPES[precision]
