"""A cache of label text embeddings that survives restarts: one file per model and template list."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch

from classifier.lrustore import LruStore

DEFAULT_ENTRIES = 20_000  # README: TEXT_CACHE_ENTRIES
SAVE_INTERVAL_SECONDS = 30.0


class TextEmbeddingCache(LruStore):
    """Label embeddings for one (model, weights, templates), by label, in memory and in one file.

    A label is kept under a hash of its text (key()), never the text itself: a chat's labels are its
    own, and /forget must leave them in no file; the label's language, which picks its templates,
    follows from its text, so the hash covers it too. The file's name carries what made the
    embeddings (file_for), so the file holds only these hashes and vectors. Entries an older
    toonclip kept under the label's text are dropped when the file is read, and the file rewritten.
    It is written by the encoding thread itself, at the put_many that finds the interval
    over and at flush(); the rest (the bound, reading, atomic writes, a failed write logged and
    retried) is LruStore's.
    """

    def __init__(self, path: Path | None, max_entries: int = DEFAULT_ENTRIES,
                 save_interval: float = SAVE_INTERVAL_SECONDS) -> None:
        super().__init__(path, what="text-embedding cache", keys_field="labels", max_entries=max_entries,
                         save_interval=save_interval)

    @staticmethod
    def key(label: str) -> str:
        """What a label is kept under: the first 128 bits of its text's SHA-256, in hex."""
        return hashlib.sha256(label.encode()).hexdigest()[:32]

    def valid_key(self, key: str) -> bool:
        return len(key) == 32 and all(c in "0123456789abcdef" for c in key)

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and super().__contains__(self.key(label))

    def get(self, label: str) -> torch.Tensor | None:
        """The embedding of label, marked as just used; None when it is not kept."""
        return super().get(self.key(label))

    def put_many(self, items: Mapping[str, torch.Tensor]) -> None:
        """Keep embeddings by label (under their hashes), as the most recently used."""
        super().put_many({self.key(label): vector for label, vector in items.items()})

    @staticmethod
    def file_for(cache_dir: Path, identity: str, templates: tuple[str, ...]) -> Path:
        """The cache file for one model identity and template list."""
        digest = hashlib.sha256("\n".join((identity, *templates)).encode()).hexdigest()[:16]
        return cache_dir / f"text-embeddings-{digest}.pt"

