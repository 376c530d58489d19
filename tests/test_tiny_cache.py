"""tests/tiny_clip.cached: two runs at once build the tiny model once, and never read it half-written."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.tiny_clip import cached


class Build:
    """A make() that records its calls and, when gated, waits to be released before it writes."""

    def __init__(self, gated: bool = False) -> None:
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        if not gated:
            self.release.set()

    def __call__(self, config: Path, checkpoint: Path) -> None:
        self.calls += 1
        self.entered.set()
        assert self.release.wait(60)
        config.write_text('{"model_cfg": {}}')
        checkpoint.write_bytes(b"weights %d" % self.calls)


def waiting_for_lock(lock: Path) -> bool:
    """Whether someone waits for the flock on this file (Linux shows waiters in /proc/locks with ->)."""
    inode = lock.stat().st_ino
    with open("/proc/locks") as locks:
        return any("->" in line and line.split()[-3].endswith(f":{inode}") for line in locks)


def test_a_second_run_waits_for_the_first_runs_build(tmp_path: Path) -> None:
    build = Build(gated=True)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cached, tmp_path, "tiny", "recipe-1", build)
        assert build.entered.wait(60)
        assert not (tmp_path / "tiny.pt").exists()  # written under another name until it is whole
        second = pool.submit(cached, tmp_path, "tiny", "recipe-1", build)
        deadline = time.monotonic() + 60
        while not waiting_for_lock(tmp_path / ".lock"):
            assert time.monotonic() < deadline and build.calls == 1, "the second run did not wait for the lock"
            time.sleep(0.01)
        build.release.set()
        assert first.result() == second.result() == (tmp_path / "tiny.json", tmp_path / "tiny.pt")
    assert build.calls == 1
    assert (tmp_path / "tiny.pt").read_bytes() == b"weights 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "recipe.txt", "tiny.json", "tiny.pt"]


def test_a_new_recipe_rebuilds_and_a_failed_build_leaves_no_stamp(tmp_path: Path) -> None:
    build = Build()
    cached(tmp_path, "tiny", "recipe-1", build)
    cached(tmp_path, "tiny", "recipe-1", build)
    assert build.calls == 1
    opened = (tmp_path / "tiny.pt").open("rb")  # a run that is using the old build
    cached(tmp_path, "tiny", "recipe-2", build)
    assert build.calls == 2 and (tmp_path / "tiny.pt").read_bytes() == b"weights 2"
    assert opened.read() == b"weights 1"  # replaced by a rename: the old file stays whole for its reader
    opened.close()
    assert (tmp_path / "recipe.txt").read_text() == "recipe-2"

    def broken(config: Path, checkpoint: Path) -> None:
        config.write_text("{")
        raise RuntimeError("training failed")

    with pytest.raises(RuntimeError):
        cached(tmp_path, "tiny", "recipe-3", broken)
    assert not (tmp_path / "recipe.txt").exists()  # the next run builds again
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "tiny.json", "tiny.pt"]  # no partial files
    cached(tmp_path, "tiny", "recipe-3", build)
    assert build.calls == 3 and (tmp_path / "recipe.txt").read_text() == "recipe-3"
