"""classifier/text/cache.py (on classifier/lrustore.py): least recently used labels go first, the file is
never half-written, and a failed write is logged and tried again."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pytest
import torch

from classifier.text.cache import TextEmbeddingCache


def vector(n: float) -> torch.Tensor:
    return torch.tensor([n, n + 0.5])


WORDS = ("cat", "dog", "fox", "owl", "bat", "odd", "a", "b", "c", "d")


def stored(path: Path) -> list[str]:
    """The labels in the cache file, in its order (least recently used first), recognised from their
    hashes: the file holds no label's text."""
    names = {TextEmbeddingCache.key(word): word for word in WORDS}
    return [names[key] for key in torch.load(path, weights_only=True)["labels"]]


def test_the_file_holds_hashes_never_a_labels_text(tmp_path: Path) -> None:
    path = tmp_path / "cache.pt"
    cache = TextEmbeddingCache(path, save_interval=0)
    cache.put_many({"quokkaroo": vector(1), "лиса": vector(2)})
    assert b"quokkaroo" not in path.read_bytes() and "лиса".encode() not in path.read_bytes()
    assert TextEmbeddingCache(path).get("quokkaroo") is not None and "лиса" in TextEmbeddingCache(path)
    assert TextEmbeddingCache.key("лиса") != TextEmbeddingCache.key("лиса ")  # the text exactly


def test_an_older_file_keyed_by_text_is_read_without_it_and_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "cache.pt"
    torch.save({"labels": ["quokkaroo"], "vectors": torch.stack([vector(1)])}, path)
    cache = TextEmbeddingCache(path, save_interval=0)
    assert len(cache) == 0 and cache.get("quokkaroo") is None
    cache.flush()
    assert b"quokkaroo" not in path.read_bytes() and stored(path) == []


def test_the_least_recently_used_labels_go_first(tmp_path: Path) -> None:
    cache = TextEmbeddingCache(tmp_path / "cache.pt", max_entries=3)
    cache.put_many({"cat": vector(1), "dog": vector(2), "fox": vector(3)})
    assert len(cache) == 3
    assert cache.get("cat") is not None  # used again: now the most recent
    cache.put_many({"owl": vector(4)})
    assert cache.get("dog") is None and len(cache) == 3
    assert [label for label in ("cat", "fox", "owl") if cache.get(label) is not None] == ["cat", "fox", "owl"]
    cache.put_many({"fox": vector(30), "bat": vector(5)})  # a label put again is fresh again
    assert cache.get("cat") is None
    assert torch.equal(cache.get("fox"), vector(30))  # type: ignore[arg-type]
    cache.flush()
    assert stored(tmp_path / "cache.pt") == ["owl", "bat", "fox"]  # get() made fox the most recent


def test_a_batch_larger_than_the_cache_keeps_its_last_labels(tmp_path: Path) -> None:
    cache = TextEmbeddingCache(None, max_entries=2)
    cache.put_many({label: vector(n) for n, label in enumerate(["a", "b", "c", "d"])})
    assert len(cache) == 2 and cache.get("c") is not None and cache.get("d") is not None


def test_the_file_is_written_at_once_then_at_most_every_interval(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "cache.pt"  # the folder is created
    cache = TextEmbeddingCache(path, save_interval=3600)
    cache.flush()
    assert cache.saves == 0 and not path.exists()  # nothing new: nothing written
    cache.put_many({"cat": vector(1)})
    assert cache.saves == 1 and stored(path) == ["cat"]
    cache.put_many({"dog": vector(2)})
    assert cache.saves == 1 and stored(path) == ["cat"]  # within the interval
    cache.flush()
    assert cache.saves == 2 and stored(path) == ["cat", "dog"]
    cache.flush()
    assert cache.saves == 2  # clean: not written again

    eager = TextEmbeddingCache(tmp_path / "eager.pt", save_interval=0)
    eager.put_many({"cat": vector(1)})
    eager.put_many({"dog": vector(2)})
    assert eager.saves == 2
    eager.flush()
    assert eager.saves == 2


def test_a_restart_reads_the_file_back(tmp_path: Path) -> None:
    path = tmp_path / "cache.pt"
    first = TextEmbeddingCache(path, max_entries=10)
    first.put_many({"cat": vector(1), "dog": vector(2)})
    first.get("cat")
    first.put_many({"owl": vector(3)})
    first.flush()
    second = TextEmbeddingCache(path, max_entries=2)
    assert len(second) == 2 and second.get("dog") is None  # the bound holds from the start: dog was oldest
    assert torch.equal(second.get("cat"), vector(1))  # type: ignore[arg-type]
    second.put_many({"bat": vector(4)})
    assert second.get("owl") is None and second.get("cat") is not None  # cat was used since the file


def test_no_path_keeps_it_in_memory(tmp_path: Path) -> None:
    cache = TextEmbeddingCache(None, save_interval=0)
    cache.put_many({"cat": vector(1)})
    cache.flush()
    assert cache.saves == 0 and len(cache) == 1 and list(tmp_path.iterdir()) == []


def test_a_failed_rewrite_leaves_the_old_file_whole(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.pt"
    cache = TextEmbeddingCache(path, save_interval=0)
    cache.put_many({"cat": vector(1)})
    before = path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.pt"]  # no temporary file left behind
    # Something in the way of the temporary file the rewrite goes through: the rewrite fails,
    # the old file stays whole, and the new label is still served from memory.
    blocker = path.with_suffix(f".tmp{os.getpid()}")
    blocker.mkdir()
    with caplog.at_level(logging.WARNING, logger="classifier.lrustore"):
        cache.put_many({"dog": vector(2)})
    [warning] = caplog.messages
    assert warning.startswith(f"Could not write the text-embedding cache {path}: ")
    assert "Is a directory" in warning  # what went wrong, named
    assert path.read_bytes() == before and stored(path) == ["cat"] and cache.saves == 1
    assert cache.get("dog") is not None
    blocker.rmdir()
    cache.flush()  # still dirty: the next save writes it
    assert stored(path) == ["cat", "dog"] and cache.saves == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.pt"]


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    cache = TextEmbeddingCache(folder / "cache.pt", save_interval=0)
    cache.put_many({"cat": vector(1)})
    (folder / "cache.pt").unlink()
    (folder / "cache.pt").mkdir()  # the rename onto it fails, after the temporary file was written
    cache.put_many({"dog": vector(2)})  # logged, never raised into the encoding
    assert sorted(p.name for p in folder.iterdir()) == ["cache.pt"]
    assert cache.saves == 1 and cache.get("cat") is not None and cache.get("dog") is not None
    cache.put_many({"fox": vector(3)})  # still usable in memory; this save fails too
    assert cache.saves == 1 and len(cache) == 3
    (folder / "cache.pt").rmdir()
    cache.put_many({"owl": vector(4)})  # the next save writes everything
    assert cache.saves == 2 and stored(folder / "cache.pt") == ["cat", "dog", "fox", "owl"]
    assert sorted(p.name for p in folder.iterdir()) == ["cache.pt"]


def test_whatever_torch_raises_while_writing_is_logged_and_retried(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.pt"
    cache = TextEmbeddingCache(path, save_interval=0)
    with caplog.at_level(logging.WARNING, logger="classifier.lrustore"):
        cache.put_many({"cat": vector(1), "odd": torch.zeros(3)})  # vectors that do not stack
    [warning] = caplog.messages
    assert warning.startswith(f"Could not write the text-embedding cache {path}: ")
    assert cache.saves == 0 and list(tmp_path.iterdir()) == [] and len(cache) == 2
    cache.put_many({"odd": vector(2)})
    assert cache.saves == 1 and stored(path) == ["cat", "odd"]


def test_a_damaged_file_is_ignored_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.pt"
    path.write_bytes(b"not a cache")
    with caplog.at_level(logging.WARNING, logger="classifier.lrustore"):
        cache = TextEmbeddingCache(path)
    assert len(cache) == 0
    [warning] = caplog.messages
    assert warning.startswith(f"Ignoring unreadable text-embedding cache {path}: ")
    assert len(warning.rsplit(": ", 1)[1]) > 10  # what went wrong, named
    torch.save({"labels": ["cat", "dog"], "vectors": torch.zeros(1, 2)}, path)  # fewer vectors than labels
    assert len(TextEmbeddingCache(path)) == 0


class Sneaky:
    """Not a tensor: a cache file that holds one must not be unpickled."""


def test_a_file_with_anything_but_tensors_is_not_unpickled(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.pt"
    torch.save({"labels": ["cat"], "vectors": torch.zeros(1, 2), "extra": Sneaky()}, path)
    with caplog.at_level(logging.WARNING, logger="classifier.lrustore"):
        assert len(TextEmbeddingCache(path)) == 0
    assert "Ignoring unreadable text-embedding cache" in caplog.text


def test_an_empty_cache_is_written_and_read_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "cache.pt"
    with caplog.at_level(logging.WARNING, logger="classifier.lrustore"):
        TextEmbeddingCache(path, save_interval=0).put_many({})
        assert stored(path) == [] and len(TextEmbeddingCache(path)) == 0
    assert caplog.messages == []


def test_the_defaults() -> None:
    cache = TextEmbeddingCache(None)
    assert cache.max_entries == 20_000 and cache.save_interval == 30.0  # README: TEXT_CACHE_ENTRIES


def test_one_file_per_model_and_template_list(tmp_path: Path) -> None:
    one = TextEmbeddingCache.file_for(tmp_path, "model-a", ("a {}", "b {}"))
    # The name must not change between versions: a new name orphans every existing cache.
    digest = hashlib.sha256(b"model-a\na {}\nb {}").hexdigest()[:16]
    assert one.name == f"text-embeddings-{digest}.pt"
    assert one == TextEmbeddingCache.file_for(tmp_path, "model-a", ("a {}", "b {}"))
    assert one.parent == tmp_path and one.name.startswith("text-embeddings-") and one.suffix == ".pt"
    assert len(one.stem.removeprefix("text-embeddings-")) == 16
    others = {TextEmbeddingCache.file_for(tmp_path, "model-b", ("a {}", "b {}")),
              TextEmbeddingCache.file_for(tmp_path, "model-a", ("b {}", "a {}")),
              TextEmbeddingCache.file_for(tmp_path, "model-a", ("a {}",))}
    assert one not in others and len(others) == 3
