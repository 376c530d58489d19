"""Every file the bot writes is for its user only (0600, folders 0700), even under a umask of 000."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.ops.backup import backup
from bot.settings import BotSettings
from classifier.private import make_private_dir, private_file
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, private_chat, user

ANN = 601


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 000: every file would be 0666 and every folder 0777 unless its mode is given."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


async def test_the_database_caches_and_backups_are_owner_only(permissive_umask: None, bot_settings: BotSettings,
                                                              fake: FakeTelegram, samples_dir: Path,
                                                              tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = replace(bot_settings, database_path=data / "db" / "bot.sqlite3",
                       classifier=replace(bot_settings.classifier, cache_dir=data / "cache" / "clip"))
    async with running_bot(settings):
        await fake.push(chat=private_chat(ANN), **{"from": user(ANN)}, text="/labels fox, duck, owl")
        await fake.wait_for(lambda: len(fake.sent(ANN)) >= 1)
        await fake.push(chat=private_chat(ANN), **{"from": user(ANN)},
                        photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.wait_for(lambda: len(fake.sent(ANN)) >= 2)
        assert fake.sent(ANN)[1]["text"].startswith("<b>fox</b>")
        # The write-ahead log and its index exist while the database is open.
        wal_files = [Path(f"{settings.database_path}{suffix}") for suffix in ("-wal", "-shm")]
        assert all(file.exists() for file in wal_files)
        assert [mode(file) for file in wal_files] == [0o600, 0o600]
        copy = backup(settings.database_path, tmp_path / "backups" / "daily" / "copy.sqlite3").path

    written = sorted(path for path in tmp_path.rglob("*") if path.is_file())
    caches = [path.name.split("-")[0] for path in written if path.suffix == ".pt"]
    assert sorted(caches) == ["image", "text"]  # both caches were written
    assert settings.database_path in written and copy in written
    assert {str(path.relative_to(tmp_path)): oct(mode(path)) for path in written} == \
        {str(path.relative_to(tmp_path)): oct(0o600) for path in written}
    folders = [data, data / "db", data / "cache", data / "cache" / "clip", copy.parent, copy.parent.parent]
    assert [oct(mode(folder)) for folder in folders] == [oct(0o700)] * len(folders)


def test_folders_that_exist_keep_their_mode(permissive_umask: None, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    make_private_dir(shared / "a" / "b")
    assert (mode(shared), mode(shared / "a"), mode(shared / "a" / "b")) == (0o755, 0o700, 0o700)
    make_private_dir(shared / "a" / "b")  # again: nothing to do, nothing raised


def test_a_private_file_is_narrowed_when_it_exists(permissive_umask: None, tmp_path: Path) -> None:
    loose = tmp_path / "loose.pt"
    loose.write_bytes(b"old")
    loose.chmod(0o644)
    with private_file(loose) as file:
        file.write(b"new")
    assert loose.read_bytes() == b"new" and mode(loose) == 0o600
