"""A cache of image embeddings by picture, for one model, that survives restarts."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import torch

from classifier.private import make_private_dir, private_file

logger = logging.getLogger(__name__)

# 50,000 embeddings of 512 float32 (a ViT-B's) are 102 MB; 768-wide ones (ViT-L) 154 MB.
DEFAULT_ENTRIES = 50_000
SAVE_INTERVAL_SECONDS = 30.0


def content_key(data: bytes) -> str:
    """The key of a picture known only by its bytes (the command line): their SHA-256."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ImageEmbeddingCache:
    """Normalised image features ((D,) float32 on the CPU) by picture key, made by one model.

    It keeps embeddings only, never a picture. Beyond max_entries the least recently used goes
    first. With a path, a thread of its own rewrites the file atomically: at once after the first
    change, then at most every save_interval seconds while changes come, and at close(); a crash
    loses at most that interval's new pictures, which are encoded again when they come back. The
    file names the identity of what made the embeddings (model, weights, preprocessing,
    precision); a file made by anything else is never read, so a change of model never serves an
    old embedding.
    """

    def __init__(self, path: Path | None, identity: str, max_entries: int = DEFAULT_ENTRIES,
                 save_interval: float = SAVE_INTERVAL_SECONDS) -> None:
        self.path = path
        self.identity = identity
        self.max_entries = max_entries
        self.save_interval = save_interval
        self.saves = 0
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()  # the entries: the event loop reads and writes, the writer copies
        self._save_lock = threading.Lock()  # one write at a time
        self._dirty = False
        self._changed = threading.Event()
        self._closing = threading.Event()
        self._writer: threading.Thread | None = None
        if path is not None:
            if path.exists():
                self._load(path)
            self._writer = threading.Thread(target=self._write_in_background, daemon=True,
                                            name="toonclip-image-cache")
            self._writer.start()

    @staticmethod
    def file_for(cache_dir: Path, identity: str) -> Path:
        """The cache file for one identity (model, weights, preprocessing, precision)."""
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return cache_dir / f"image-embeddings-{digest}.pt"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> torch.Tensor | None:
        """The embedding of the picture, marked as just used; None when it is not cached."""
        with self._lock:
            vector = self._entries.get(key)
            if vector is not None:
                self._entries.move_to_end(key)
            return vector

    def put(self, key: str, vector: torch.Tensor) -> None:
        """Keep an embedding (a tensor of its own, never read-write shared); the oldest goes when full."""
        with self._lock:
            self._entries[key] = vector
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self._dirty = True
        self._changed.set()

    def flush(self) -> None:
        """Write what is not on disk yet (in the calling thread)."""
        with self._save_lock:
            with self._lock:
                if not self._dirty or self.path is None:
                    return
                self._dirty = False
                self._changed.clear()
                keys, vectors = list(self._entries), list(self._entries.values())
            try:  # outside the entries' lock: the event loop never waits for the disk
                self._save(self.path, keys, vectors)
                self.saves += 1
            except OSError as exc:  # a full disk costs re-encoding after a restart, never an answer
                logger.warning("Could not write the image-embedding cache %s: %s", self.path, exc)
                with self._lock:
                    self._dirty = True

    def close(self) -> None:
        """Stop the writer and write what is left."""
        self._closing.set()
        self._changed.set()
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        self.flush()

    def _write_in_background(self) -> None:
        while True:
            self._changed.wait()
            if self._closing.is_set():
                return
            self.flush()
            if self._closing.wait(self.save_interval):
                return

    def _save(self, path: Path, keys: list[str], vectors: list[torch.Tensor]) -> None:
        make_private_dir(path.parent)
        stacked = torch.stack(vectors) if vectors else torch.empty(0)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with private_file(tmp) as file:  # 0600: for the bot's user only
            torch.save({"identity": self.identity, "keys": keys, "vectors": stacked}, file)
        os.replace(tmp, path)

    def _load(self, path: Path) -> None:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("identity") != self.identity:
                logger.warning("Ignoring image-embedding cache %s: it was made by another model", path)
                return
            keys, vectors = saved["keys"], saved["vectors"]
            for key, vector in zip(keys[-self.max_entries:], vectors[-self.max_entries:], strict=True):
                self._entries[key] = vector.clone()  # a storage of its own: eviction frees it
        except Exception as exc:  # a damaged cache costs re-encoding, never a failed start
            logger.warning("Ignoring unreadable image-embedding cache %s: %s", path, exc)
            self._entries.clear()
