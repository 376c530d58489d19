"""Loading an open_clip model and running its two encoders."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path

import open_clip
import torch
from PIL import Image
from safetensors import SafetensorError

from classifier.model.spec import (
    ModelLoadError,
    ModelSpec,
    is_path,
    resolve_precision,
    resolve_spec,
)
from classifier.model.weights import load_streaming, parameters_on_meta

logger = logging.getLogger(__name__)

class ClipModel:
    """A loaded CLIP: eval mode, on its device, in its dtype, with its own preprocessing."""

    def __init__(self, model: torch.nn.Module, preprocess: Callable[[Image.Image], torch.Tensor],
                 tokenizer: Callable[..., torch.Tensor], device: torch.device, dtype: torch.dtype,
                 identity: str, multilingual: bool = False) -> None:
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = dtype
        self.identity = identity
        size = getattr(getattr(model, "visual", None), "image_size", 224)
        self.image_size = int(size if isinstance(size, int) else min(size))
        self.logit_scale = float(model.logit_scale.exp().item())  # type: ignore[operator]
        # Reads labels in many languages: an XLM-RoBERTa or i18n text tower (README, Languages).
        self.multilingual = multilingual
        # SigLIP models add a bias and were trained with a sigmoid per label (zeroshot.score_many).
        bias = getattr(model, "logit_bias", None)
        self.logit_bias = float(bias.item()) if isinstance(bias, torch.Tensor) else None

    @torch.inference_mode()
    def encode_images(self, batch: torch.Tensor) -> torch.Tensor:
        """Preprocessed images (N, 3, H, W) to normalised float32 features (N, D) on the CPU."""
        pixels = batch.to(self.device, dtype=self.dtype, non_blocking=True)
        features = self.model.encode_image(pixels)  # type: ignore[operator]
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu()

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentences to normalised float32 features (N, D) on the CPU."""
        tokens = self.tokenizer(list(texts)).to(self.device)
        encode = _encode_text_trimmed if _can_trim(self.model) else type(self.model).encode_text  # type: ignore[attr-defined]
        features = encode(self.model, tokens)
        return torch.nn.functional.normalize(features.float(), dim=-1).cpu()


def _can_trim(model: torch.nn.Module) -> bool:
    """CLIP's own text tower: causal attention, pooled at the end-of-text token (the highest id)."""
    return (type(model) is open_clip.CLIP and getattr(model, "text_pool_type", None) == "argmax"
            and getattr(model, "attn_mask", None) is not None)


def _encode_text_trimmed(model: open_clip.CLIP, tokens: torch.Tensor) -> torch.Tensor:
    """open_clip's encode_text, run only up to the longest sentence's end-of-text token.

    Prompts are ~10 tokens of a 77-token context. With a causal mask the padding after
    the end token cannot change anything before it, so cutting it off gives the same
    features several times faster (tested against encode_text).
    """
    length = int(tokens.argmax(dim=-1).max().item()) + 1
    tokens = tokens[:, :length]
    cast = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast) + model.positional_embedding[:length].to(cast)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
    projection = model.text_projection
    if projection is None:
        return x
    return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def build_model(spec: ModelSpec, device: torch.device | None = None,
                dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    """Instantiate the architecture of spec on device (default the CPU), in dtype, with its weights.

    Weights from a checkpoint stream into a model built without parameters (classifier/model/weights.py),
    so the checkpoint and the model are never in memory together.
    """
    device = device or torch.device("cpu")
    if not spec.pretrained:
        return _create(spec).to(device=device, dtype=dtype)
    path = _checkpoint_path(spec)
    model = build_skeleton(spec)
    try:
        load_streaming(model, path, device, dtype)
    except (OSError, RuntimeError, ValueError, KeyError, pickle.UnpicklingError, SafetensorError) as exc:
        reason = ("it is not a PyTorch checkpoint of tensors" if isinstance(exc, pickle.UnpicklingError)
                  else (str(exc).strip() or type(exc).__name__).splitlines()[0][:300])
        raise ModelLoadError(f"Could not load {spec.name} from {spec.pretrained}: {reason}") from exc
    return model


def build_skeleton(spec: ModelSpec) -> torch.nn.Module:
    """The architecture of spec with its parameters on the meta device: no memory, no weights yet."""
    with parameters_on_meta():
        return _create(spec, device=None)  # None: every tensor stays where it was built


def _create(spec: ModelSpec, device: torch.device | str | None = "cpu") -> torch.nn.Module:
    """open_clip's architecture of spec, with random weights."""
    try:
        return open_clip.create_model(
            spec.name,
            pretrained=None,
            force_quick_gelu=spec.quick_gelu,
            force_preprocess_cfg=spec.preprocess or None,
            pretrained_text=False,  # a Hugging Face text tower gets its weights from the checkpoint
            device=device,
        )
    except RuntimeError as exc:
        raise ModelLoadError(f"Could not build {spec.name}: {exc}") from exc


def _checkpoint_path(spec: ModelSpec) -> Path:
    """The checkpoint file: the path given, or the tag's file in the Hugging Face cache (downloaded once)."""
    assert spec.pretrained
    if is_path(spec.pretrained):
        return Path(spec.pretrained)
    try:
        return Path(open_clip.download_pretrained(open_clip.get_pretrained_cfg(spec.name, spec.pretrained)))
    except (OSError, RuntimeError, ValueError) as exc:
        raise ModelLoadError(
            f"The weights for {spec.name} ({spec.pretrained}) are not in the Hugging Face cache and "
            f"could not be downloaded ({exc}). Start once with internet access, or set CLIP_PRETRAINED "
            "to a local .pt, .bin or .safetensors checkpoint."
        ) from exc


def make_preprocess(model: torch.nn.Module) -> Callable[[Image.Image], torch.Tensor]:
    """The inference transform that matches the model's own preprocessing settings."""
    cfg = open_clip.get_model_preprocess_cfg(model)
    return open_clip.image_transform(
        cfg["size"], is_train=False, mean=cfg.get("mean"), std=cfg.get("std"),
        interpolation=cfg.get("interpolation"), resize_mode=cfg.get("resize_mode"),
        fill_color=cfg.get("fill_color", 0),
    )


def load_model(model: str, pretrained: str, device: str = "cpu", precision: str = "auto") -> ClipModel:
    """Build the model named by the settings, load its weights, and ready it for inference."""
    spec = resolve_spec(model, pretrained)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"CLIP_DEVICE is {device}, but no CUDA device is available; use cpu.")
    dtype = resolve_precision(precision, device)
    torch_device = torch.device(device)
    try:
        clip = build_model(spec, torch_device, dtype)
        tokenizer = open_clip.get_tokenizer(spec.name)
    except ImportError as exc:  # transformers or sentencepiece, for Hugging Face tokenizers and text towers
        raise ModelLoadError(
            f"{spec.name} needs Hugging Face's tokenizers ({exc.name or exc}); install the multilingual extra: "
            "pip install -e '.[multilingual]'"
        ) from exc
    preprocess = make_preprocess(clip)
    logger.info("Loaded %s (%s) on %s in %s", spec.name, spec.pretrained or "random weights", device, dtype)
    return ClipModel(clip, preprocess, tokenizer, torch_device, dtype, spec.identity, spec.multilingual)
