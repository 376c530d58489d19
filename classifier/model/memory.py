"""Memory: what this process uses, what the machine has free, and what a model will need.

The figures behind `needed_mb` were measured with the bot (README, Requirements); the start-up
check refuses a model the machine clearly cannot hold, instead of starting and being killed by
the kernel's OOM killer mid-conversation.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from classifier.model.clip import build_skeleton
from classifier.model.spec import ModelLoadError, resolve_precision, resolve_spec

logger = logging.getLogger(__name__)

MB = 2**20
PRECISION_NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}  # as CLIP_PRECISION says
# Parameters (millions) of the models the README documents, so that the check needs no download.
PARAMETERS_MILLIONS = {
    "ViT-B-32-256": 151.3,
    "ViT-B-32": 151.3,
    "xlm-roberta-base-ViT-B-32": 366.1,
    "ViT-B-16-SigLIP-i18n-256": 370.6,
    "MobileCLIP-S1": 85.0,
    "MobileCLIP2-S0": 74.8,
}
# Smaller models to suggest, largest first: (CLIP_MODEL, CLIP_PRETRAINED).
SMALLER_MODELS = (("MobileCLIP-S1", "datacompdr"), ("MobileCLIP2-S0", "dfndr2b"))
# Measured with the bot on a CPU (README, Requirements): what it holds besides the imports and the
# weights once started (worker threads, caches, SQLite, Telegram), and what a burst of 256 photos adds.
RUNTIME_MB = 100
BURST_MB = 300


class NotEnoughMemory(ModelLoadError):
    """The machine has clearly less memory available than the chosen model needs."""


@dataclass(frozen=True)
class Need:
    """What loading and running a model adds to this process as it is now (MB), in which precision."""

    extra_mb: float
    dtype: str


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB; its peak where that cannot be read (not Linux)."""
    return _status_mb("VmRSS") or peak_rss_mb()


def peak_rss_mb() -> float:
    """The most resident memory this process has had (VmHWM), in MB; 0 where it cannot be read."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    maximum = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maximum / MB if sys.platform == "darwin" else maximum / 1024  # bytes there, kB on Linux


def _status_mb(key: str, status: Path = Path("/proc/self/status")) -> float | None:
    try:
        for line in status.read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_mb(proc: Path = Path("/proc"), cgroup_root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """Memory a new allocation can get, in MB: the kernel's MemAvailable, or less where a cgroup
    (a container's memory limit) allows less. None where neither can be read (not Linux)."""
    figures = [f for f in (_meminfo_available(proc / "meminfo"), _cgroup_available(proc, cgroup_root)) if f is not None]
    return min(figures) if figures else None


def _meminfo_available(meminfo: Path) -> float | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available(proc: Path, root: Path) -> float | None:
    """cgroup v2: the limit less what is charged, giving back the page cache the kernel can drop."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
        own = next((line[3:] for line in lines if line.startswith("0::")), "/")
        for folder in (root / own.lstrip("/"), root):
            limit = folder / "memory.max"
            if limit.is_file():
                text = limit.read_text().strip()
                if text == "max":
                    return None
                stat = dict(line.split() for line in (folder / "memory.stat").read_text().splitlines())
                used = int((folder / "memory.current").read_text()) - int(stat.get("inactive_file", 0))
                return (int(text) - used) / MB
    except (OSError, ValueError):
        pass
    return None


def parameters_millions(model: str, pretrained: str) -> float | None:
    """The model's parameter count: from the table, else counted on an architecture built without
    weights (no memory, a fraction of a second). None when it cannot be built here."""
    if model in PARAMETERS_MILLIONS:
        return PARAMETERS_MILLIONS[model]
    try:
        skeleton = build_skeleton(resolve_spec(model, pretrained))
    except (ModelLoadError, ImportError, OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        logger.info("Could not count the parameters of %s (%s); memory not checked", model, exc)
        return None
    return sum(p.numel() for p in skeleton.parameters()) / 1e6


def needed(model: str, pretrained: str, precision: str, device: str) -> Need | None:
    """What loading and running the model adds to this process (already holding torch and open_clip)."""
    params = parameters_millions(model, pretrained)
    if params is None:
        return None
    dtype = resolve_precision(precision, device)
    weights = params * 1e6 * dtype.itemsize / MB
    return Need(extra_mb=weights + RUNTIME_MB + BURST_MB, dtype=PRECISION_NAMES.get(dtype, str(dtype)))


def check_memory(model: str, pretrained: str, precision: str, device: str, available: float | None) -> None:
    """Refuse, with one sentence naming both figures and a smaller model, a model that clearly does not fit.

    available is what the machine has free besides this process (None: measure it). On a GPU the
    weights live in the GPU's memory, so only a CPU model is checked.
    """
    if not device.startswith("cpu"):
        return
    free = available_mb() if available is None else available
    need = needed(model, pretrained, precision, device)
    if free is None or need is None or need.extra_mb <= free:
        return
    own = rss_mb()
    message = (f"{model} in {need.dtype} needs about {own + need.extra_mb:,.0f} MB of memory, but this machine "
               f"has {own + free:,.0f} MB for it")
    raise NotEnoughMemory(f"{message}; {_suggestion(precision, device, free, own)}")


def _suggestion(precision: str, device: str, free: float, own: float) -> str:
    for name, tag in SMALLER_MODELS:
        need = needed(name, tag, precision, device)
        if need is not None and need.extra_mb <= free:
            return (f"set CLIP_MODEL={name} and CLIP_PRETRAINED={tag} (about {own + need.extra_mb:,.0f} MB), "
                    "or run it on a machine with more memory.")
    name, tag = SMALLER_MODELS[-1]
    need = needed(name, tag, precision, device)
    smallest = f" (about {own + need.extra_mb:,.0f} MB)" if need else ""
    return (f"even the smallest model suggested here, CLIP_MODEL={name} with CLIP_PRETRAINED={tag}{smallest}, "
            "would not fit: run it on a machine with more memory.")
