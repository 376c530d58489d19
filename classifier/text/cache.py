"""A cache of label text embeddings that survives restarts."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

import torch

from classifier.private import make_private_dir, private_file

logger = logging.getLogger(__name__)


class TextEmbeddingCache:
    """Label embeddings for one (model, weights, templates), in memory and in one file.

    The file is rewritten atomically, so a crash never leaves a half-written cache: at
    once after the first new labels, then at most every save_interval seconds, and on
    flush(). A crash loses at most that interval's new labels, which are encoded again.
    A rewrite that fails (a full disk) is logged and tried again at the next save.
    At most max_entries labels are kept; the least recently used go first.
    """

    def __init__(self, path: Path | None, max_entries: int = 20_000, save_interval: float = 30.0) -> None:
        self.path = path
        self.max_entries = max_entries
        self.save_interval = save_interval
        self.saves = 0
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()
        self._dirty = False
        self._saved_at = -float("inf")
        if path is not None and path.exists():
            self._load(path)

    @staticmethod
    def file_for(cache_dir: Path, identity: str, templates: tuple[str, ...]) -> Path:
        """The cache file for one model identity and template list."""
        digest = hashlib.sha256("\n".join((identity, *templates)).encode()).hexdigest()[:16]
        return cache_dir / f"text-embeddings-{digest}.pt"

    def _load(self, path: Path) -> None:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            labels, vectors = saved["labels"], saved["vectors"]
            for label, vector in zip(labels, vectors, strict=True):
                self._entries[label] = vector
        except Exception as exc:  # a damaged cache costs re-encoding, never a failed start
            logger.warning("Ignoring unreadable text-embedding cache %s: %s", path, exc)
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, label: str) -> torch.Tensor | None:
        with self._lock:
            vector = self._entries.get(label)
            if vector is not None:
                self._entries.move_to_end(label)
            return vector

    def put_many(self, items: dict[str, torch.Tensor]) -> None:
        """Add embeddings; persist them when the last save is older than save_interval."""
        with self._lock:
            for label, vector in items.items():
                self._entries[label] = vector
                self._entries.move_to_end(label)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self._dirty = True
            if time.monotonic() - self._saved_at >= self.save_interval:
                self._save_locked()

    def flush(self) -> None:
        """Write what is not on disk yet."""
        with self._lock:
            if self._dirty:
                self._save_locked()

    def _save_locked(self) -> None:
        self._saved_at = time.monotonic()
        if self.path is not None:
            try:
                self._save(self.path)
            except (OSError, RuntimeError) as exc:  # torch's writer raises RuntimeError for a failed open
                # A full disk or a read-only folder costs re-encoding after a restart, never an answer;
                # still dirty, so the next save tries again.
                logger.warning("Could not write the text-embedding cache %s: %s", self.path, exc)
                return
            self.saves += 1
        self._dirty = False

    def _save(self, path: Path) -> None:
        make_private_dir(path.parent)
        labels = list(self._entries)
        vectors = torch.stack([self._entries[label] for label in labels]) if labels else torch.empty(0)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            with private_file(tmp) as file:  # 0600: for the bot's user only
                torch.save({"labels": labels, "vectors": vectors}, file)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()  # no half-written temporary file left behind
            raise
