"""A cache of image embeddings by picture, for one model, that survives restarts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from classifier.lrustore import LruStore

# 50,000 embeddings of 512 float32 (a ViT-B's) are 102 MB; 768-wide ones (ViT-L) 154 MB.
DEFAULT_ENTRIES = 50_000
SAVE_INTERVAL_SECONDS = 30.0


def content_key(data: bytes) -> str:
    """The key of a picture known only by its bytes (the command line): their SHA-256."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ImageEmbeddingCache(LruStore):
    """Normalised image features ((D,) float32 on the CPU) by picture key, made by one model.

    It keeps embeddings only, never a picture. With a path, a thread of its own writes the file
    (the event loop that puts never waits for the disk), so call close() at shutdown. The file
    names the identity of what made the embeddings (model, weights, preprocessing, precision); a
    file made by anything else is never read, so a change of model never serves an old embedding.
    The rest (the bound, the timing of writes, a failed write logged and retried) is LruStore's.
    """

    def __init__(self, path: Path | None, identity: str, max_entries: int = DEFAULT_ENTRIES,
                 save_interval: float = SAVE_INTERVAL_SECONDS) -> None:
        super().__init__(path, what="image-embedding cache", keys_field="keys", max_entries=max_entries,
                         save_interval=save_interval, identity=identity, background=True)

    @staticmethod
    def file_for(cache_dir: Path, identity: str) -> Path:
        """The cache file for one identity (model, weights, preprocessing, precision)."""
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return cache_dir / f"image-embeddings-{digest}.pt"

    def put(self, key: str, vector: torch.Tensor) -> None:
        """Keep an embedding (a tensor of its own, never read-write shared); the oldest goes when full."""
        self.put_many({key: vector})
