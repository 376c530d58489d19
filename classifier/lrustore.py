"""A bounded LRU of tensors by string key, kept in one file that survives restarts."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import torch

from classifier.private import make_private_dir, private_file

logger = logging.getLogger(__name__)


class LruStore:
    """Tensors by key, in memory and in one file; beyond max_entries the least recently used goes first.

    With a path, the file is read at start: the last max_entries of it, each tensor copied into a
    storage of its own so that eviction frees it. A file that cannot be read, or that names another
    identity than this store's, is ignored with a warning: a lost cache costs recomputing, never a
    failed start. Without a path the store lives in memory only.

    The file is rewritten atomically (a temporary file beside it, then os.replace): at once after
    the first change, then at most every save_interval seconds while changes come, and at flush()
    or close(). With background set a thread of its own writes it, so the thread that puts never
    waits for the disk; otherwise the put that finds the interval over writes it. A crash loses at
    most that interval's changes.

    A write that fails for any reason (a full disk, a folder that is not writable, torch's writer
    failing to open or pickle) is logged as one warning, leaves no temporary file, keeps every
    entry in memory, and is tried again at the next save (the next change once the interval is
    over, flush() or close()); the background writer lives on.
    """

    def __init__(self, path: Path | None, *, what: str, keys_field: str, max_entries: int,
                 save_interval: float, identity: str | None = None, background: bool = False) -> None:
        """what names the store in log lines ("image-embedding cache"); keys_field is the file's
        name for its list of keys; identity, when given, is written in the file and must match to read it."""
        self.path = path
        self.what = what
        self.keys_field = keys_field
        self.identity = identity
        self.max_entries = max_entries
        self.save_interval = save_interval
        self.saves = 0  # files written
        self._entries: OrderedDict[str, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()  # the entries: callers read and write, a save copies
        self._save_lock = threading.Lock()  # one write at a time
        self._dirty = False
        self._saved_at = -float("inf")  # when the last write was tried
        self._changed = threading.Event()
        self._closing = threading.Event()
        self._writer: threading.Thread | None = None
        if path is not None:
            if path.exists():
                self._load(path)
            if background:
                self._writer = threading.Thread(target=self._write_in_background, daemon=True,
                                                name="toonclip-" + what.replace(" ", "-"))
                self._writer.start()

    def __len__(self) -> int:
        return len(self._entries)

    def valid_key(self, key: str) -> bool:
        """Whether a key read from the file is one this store writes (all are, unless a subclass says)."""
        return True

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> torch.Tensor | None:
        """The tensor kept for key, marked as just used; None when there is none."""
        with self._lock:
            vector = self._entries.get(key)
            if vector is not None:
                self._entries.move_to_end(key)
            return vector

    def put_many(self, items: Mapping[str, torch.Tensor]) -> None:
        """Keep the tensors, as the most recently used; the oldest go beyond max_entries. Then save
        when it is time: by the writer thread, or here when there is none."""
        with self._lock:
            for key, vector in items.items():
                self._entries[key] = vector
                self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            self._dirty = True
            due = time.monotonic() - self._saved_at >= self.save_interval
        if self._writer is not None:
            self._changed.set()
        elif due:
            self.flush()

    def flush(self) -> None:
        """Write what is not on disk yet, in the calling thread; a failure is logged, never raised."""
        with self._save_lock:
            with self._lock:
                if not self._dirty or self.path is None:
                    return
                self._dirty = False
                self._changed.clear()
                self._saved_at = time.monotonic()
                keys, vectors = list(self._entries), list(self._entries.values())
            try:  # outside the entries' lock: nobody waits for the disk to read or put
                self._save(self.path, keys, vectors)
            except Exception as exc:  # any failure: the cache is worth a retry, never an answer or the writer
                logger.warning("Could not write the %s %s: %s", self.what, self.path, exc)
                with self._lock:
                    self._dirty = True  # the next save tries again
                return
            self.saves += 1

    def close(self) -> None:
        """Stop the writer thread, if any, and write what is left."""
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
        saved: dict[str, object] = {} if self.identity is None else {"identity": self.identity}
        saved[self.keys_field] = keys
        saved["vectors"] = torch.stack(vectors) if vectors else torch.empty(0)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            with private_file(tmp) as file:  # 0600: labels and pictures' keys are the chats' business
                torch.save(saved, file)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()  # no half-written temporary file left behind
            raise

    def _load(self, path: Path) -> None:
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if self.identity is not None and saved.get("identity") != self.identity:
                logger.warning("Ignoring %s %s: it was made by another model", self.what, path)
                return
            pairs = list(zip(saved[self.keys_field], saved["vectors"], strict=True))
            for key, vector in pairs[max(0, len(pairs) - self.max_entries):]:  # the most recently used
                if self.valid_key(key):
                    self._entries[key] = vector.clone()  # a storage of its own: eviction frees it
                else:  # written by an older toonclip: dropped, and the file is rewritten without it
                    self._dirty = True
        except Exception as exc:  # a damaged file costs recomputing, never a failed start
            logger.warning("Ignoring unreadable %s %s: %s", self.what, path, exc)
            self._entries.clear()
