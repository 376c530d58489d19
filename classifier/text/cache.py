"""A cache of label text embeddings that survives restarts: one file per model and template list."""

from __future__ import annotations

import hashlib
from pathlib import Path

from classifier.lrustore import LruStore

DEFAULT_ENTRIES = 20_000  # README: TEXT_CACHE_ENTRIES
SAVE_INTERVAL_SECONDS = 30.0


class TextEmbeddingCache(LruStore):
    """Label embeddings for one (model, weights, templates), by label, in memory and in one file.

    The file's name carries what made the embeddings (file_for), so the file holds only labels and
    vectors. It is written by the encoding thread itself, at the put_many that finds the interval
    over and at flush(); the rest (the bound, reading, atomic writes, a failed write logged and
    retried) is LruStore's.
    """

    def __init__(self, path: Path | None, max_entries: int = DEFAULT_ENTRIES,
                 save_interval: float = SAVE_INTERVAL_SECONDS) -> None:
        super().__init__(path, what="text-embedding cache", keys_field="labels", max_entries=max_entries,
                         save_interval=save_interval)

    @staticmethod
    def file_for(cache_dir: Path, identity: str, templates: tuple[str, ...]) -> Path:
        """The cache file for one model identity and template list."""
        digest = hashlib.sha256("\n".join((identity, *templates)).encode()).hexdigest()[:16]
        return cache_dir / f"text-embeddings-{digest}.pt"

