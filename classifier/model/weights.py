"""Checkpoint weights into a model without holding the checkpoint and the model at once.

The architecture is built with its parameters on the meta device (no memory, no random
initialisation), the checkpoint is memory-mapped, and each tensor is copied into the
model's dtype and device one at a time, the checkpoint's pages given back to the kernel
behind it. So the peak while loading is the loaded model plus one tensor, not the model
plus the whole checkpoint (README, Requirements).
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from open_clip.convert import convert_state_dict
from open_clip.model import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed

logger = logging.getLogger(__name__)

_MADV_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)
_BUILDING = threading.Lock()


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Modules built inside, on this thread, get their parameters on the meta device; buffers stay real.

    Non-persistent buffers (CLIP's causal attention mask, a text tower's position ids) are not
    in any checkpoint, so they must be computed for real, which torch.device("meta") would not
    do. The patch of Module.register_parameter is process-wide while it lasts, so builds take
    turns and other threads' modules are left alone. open_clip's warning (on the root logger)
    that the model it built is random is dropped: its weights follow at once.
    """
    with _BUILDING:
        register = torch.nn.Module.register_parameter
        builder = threading.get_ident()

        def register_on_meta(self: torch.nn.Module, name: str, param: torch.nn.Parameter | None) -> None:
            register(self, name, param)
            if param is not None and param.device.type != "meta" and threading.get_ident() == builder:
                self._parameters[name] = type(param)(param.to("meta"), **param.__dict__)

        def keep(record: logging.LogRecord) -> bool:
            return not record.getMessage().startswith("No pretrained weights loaded")

        root = logging.getLogger()
        root.addFilter(keep)
        torch.nn.Module.register_parameter = register_on_meta  # type: ignore[method-assign]
        try:
            yield
        finally:
            torch.nn.Module.register_parameter = register  # type: ignore[method-assign]
            root.removeFilter(keep)


def read_checkpoint(path: Path) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors, memory-mapped (nothing read yet) where the format allows it."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        checkpoint: Any = load_file(path)  # memory-mapped by safetensors itself
    else:
        try:
            checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except RuntimeError as exc:  # the legacy (pre-zip) format cannot be mapped
            if "mmap" not in str(exc):
                raise
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ValueError("it holds no state dict of tensors")
    if next(iter(checkpoint)).startswith("module."):  # saved from DistributedDataParallel
        checkpoint = {key.removeprefix("module."): value for key, value in checkpoint.items()}
    return checkpoint


def open_clip_compatible(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The conversions open_clip's load_checkpoint makes before loading (same order, same helpers)."""
    state = convert_state_dict(model, state)
    if "positional_embedding" in state and not hasattr(model, "positional_embedding"):
        state = convert_to_custom_text_state_dict(state)
    for key in ("logit_scale", "logit_bias"):
        own = getattr(model, key, None)
        if key in state and isinstance(own, torch.Tensor) and own.ndim != state[key].ndim:
            state[key] = state[key].reshape(own.shape)
    if "logit_bias" not in state and getattr(model, "logit_bias", None) is not None:
        state["logit_bias"] = torch.zeros_like(state["logit_scale"])
    position_ids = "text.transformer.embeddings.position_ids"
    if position_ids in state and not hasattr(model, position_ids):
        del state[position_ids]
    resize_pos_embed(state, model)
    resize_text_pos_embed(state, model)
    return state


def load_streaming(model: torch.nn.Module, path: Path, device: torch.device, dtype: torch.dtype) -> None:
    """Load the checkpoint at path into a model built under parameters_on_meta, in dtype on device."""
    state = open_clip_compatible(model, read_checkpoint(path))
    release = _page_releaser(path)
    for key in list(state):
        tensor = state[key]
        wanted = dtype if tensor.is_floating_point() else tensor.dtype
        state[key] = tensor.to(device=device, dtype=wanted, copy=True)
        release(tensor)
        del tensor
    model.load_state_dict(state, strict=True, assign=True)
    model.to(device=device, dtype=dtype)  # the buffers built for real (masks) follow the weights


def _page_releaser(path: Path) -> Callable[[torch.Tensor], None]:
    """A function that gives back the checkpoint pages under a tensor once it has been copied.

    Pages of a memory-mapped file stay in this process's resident memory until unmapped, so
    without this the whole checkpoint would be resident beside the model by the end. Only
    whole pages inside a private mapping of this very file are released (Linux).
    """
    regions = _mapped_regions(path)
    if not regions or _MADV_DONTNEED is None:
        return lambda tensor: None
    libc = ctypes.CDLL(None, use_errno=True)
    madvise = libc.madvise
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    page = mmap.PAGESIZE

    def release(tensor: torch.Tensor) -> None:
        start = tensor.data_ptr()
        end = start + tensor.numel() * tensor.element_size()
        if tensor.device.type != "cpu" or not any(low <= start and end <= high for low, high in regions):
            return
        first, last = -(-start // page) * page, end // page * page
        if last > first:
            madvise(first, last - first, _MADV_DONTNEED)

    return release


def _mapped_regions(path: Path) -> list[tuple[int, int]]:
    """Address ranges of this process's private mappings of path, from /proc/self/maps."""
    if not sys.platform.startswith("linux"):
        return []
    target = str(path.resolve())
    regions = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and fields[5].strip() == target and fields[1][3] == "p":
                    low, high = fields[0].split("-")
                    regions.append((int(low, 16), int(high, 16)))
    except OSError:
        return []
    return regions
