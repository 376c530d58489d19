"""bot/state/storage.py on a real SQLite file: the schema's migrations, the files it refuses, votes and scores."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.state.schema import APPLICATION_ID, MIGRATIONS, StorageError
from bot.state.storage import Storage, Vote, VoteOutcome

CURRENT = len(MIGRATIONS)


def old_database(path: Path, version: int) -> None:
    """A database as toonclip left it at schema `version`, with a label set and (from 2 on) a score."""
    with sqlite3.connect(path) as db:
        for migration in MIGRATIONS[:version]:
            db.executescript(migration)
        db.execute(f"PRAGMA user_version = {version}")
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute("INSERT INTO chat_labels VALUES (1, ?, 0)", (json.dumps(["owl", "bat"]),))
        if version >= 2:
            db.execute("INSERT INTO scores VALUES (-100, 7, 'Ann', 3)")
    db.close()


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        found = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    db.close()
    return found - {"sqlite_sequence"}


def pragma(path: Path, name: str) -> int:
    with sqlite3.connect(path) as db:
        (value,) = db.execute(f"PRAGMA {name}").fetchone()
    db.close()
    return int(value)


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    opened = await Storage.open(tmp_path / "bot.sqlite3")
    yield opened
    await opened.close()


async def test_a_fresh_database_gets_every_table(tmp_path: Path) -> None:
    path = tmp_path / "data" / "bot" / "new.sqlite3"  # the folders are created too
    opened = await Storage.open(path)
    assert await opened.schema_version() == CURRENT
    await opened.close()
    assert tables(path) == {"chat_labels", "rounds", "votes", "scores", "chat_language", "chat_notes", "chat_moves",
                            "unreachable_chats", "chat_options"}
    assert pragma(path, "user_version") == CURRENT and pragma(path, "application_id") == APPLICATION_ID
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    again = await Storage.open(path)  # our own file opens again, unchanged
    assert await again.schema_version() == CURRENT
    await again.close()


@pytest.mark.parametrize("version", range(1, CURRENT))
async def test_an_older_database_is_migrated_forward_keeping_its_data(tmp_path: Path, version: int,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.sqlite3"
    old_database(path, version)
    caplog.set_level("INFO", logger="bot.state.schema")
    opened = await Storage.open(path)
    try:
        assert await opened.schema_version() == CURRENT
        assert await opened.get_labels(1) == ("owl", "bat")
        if version >= 2:
            assert await opened.leaderboard(-100) == [("Ann", 3)]
        await opened.set_language(1, "ru")  # the newest tables work
        assert await opened.get_language(1) == "ru"
    finally:
        await opened.close()
    assert tables(path) == {"chat_labels", "rounds", "votes", "scores", "chat_language", "chat_notes", "chat_moves",
                            "unreachable_chats", "chat_options"}
    migrated = [r.getMessage() for r in caplog.records if "migrated" in r.getMessage()]
    assert migrated == [f"Database {path} migrated to version {n}" for n in range(version + 1, CURRENT + 1)]


async def test_a_database_of_a_newer_toonclip_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    old_database(path, CURRENT)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {CURRENT + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StorageError) as refused:
        await Storage.open(path)
    assert str(refused.value) == (f"DATABASE_PATH {path} has schema version {CURRENT + 1}, newer than this toonclip "
                                  f"knows ({CURRENT}); upgrade toonclip.")
    assert pragma(path, "user_version") == CURRENT + 1
    assert path.read_bytes() == before


async def test_a_migration_that_fails_is_rolled_back_whole(tmp_path: Path) -> None:
    path = tmp_path / "half.sqlite3"
    old_database(path, 2)
    with sqlite3.connect(path) as db:  # migration 3's second table is in the way
        db.execute("CREATE TABLE chat_notes (x INTEGER)")
    db.close()
    with pytest.raises(StorageError, match="damaged or not a database"):
        await Storage.open(path)
    assert pragma(path, "user_version") == 2
    assert "chat_language" not in tables(path)  # its first table went with it


async def test_files_that_are_not_ours_are_refused_untouched(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n")
    with pytest.raises(StorageError) as refused:
        await Storage.open(notes)
    assert str(refused.value) == (f"DATABASE_PATH {notes} is not an SQLite database; move it away or point "
                                  "DATABASE_PATH elsewhere.")
    assert notes.read_text() == "my precious notes\n"

    foreign = tmp_path / "other.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    db.close()
    with pytest.raises(StorageError) as refused:
        await Storage.open(foreign)
    assert str(refused.value) == (f"DATABASE_PATH {foreign} belongs to another program (it has tables but is not "
                                  "a toonclip database); point DATABASE_PATH elsewhere.")
    assert tables(foreign) == {"invoices"} and pragma(foreign, "user_version") == 0

    empty = tmp_path / "empty.db"
    empty.touch()  # an empty file is a new database, not a foreign one
    opened = await Storage.open(empty)
    assert await opened.schema_version() == CURRENT
    await opened.close()


async def test_votes_once_per_player_until_the_round_ends(storage: Storage) -> None:
    round_id = await storage.open_round(-100, 0, 7, ("fox", "cat", "dog"), answer=0, probability=0.9, ends_at=100.0)
    assert round_id is not None
    assert await storage.vote(round_id, 1, "Ann", 0, now=10.0) is VoteOutcome.RECORDED
    assert await storage.vote(round_id, 1, "Ann", 1, now=11.0) is VoteOutcome.ALREADY
    assert await storage.vote(round_id, 2, "Bob", 1, now=99.9) is VoteOutcome.RECORDED
    assert await storage.vote(round_id, 3, "Cat", 0, now=100.0) is VoteOutcome.CLOSED  # ends_at itself is too late
    assert await storage.vote(round_id + 1, 3, "Cat", 0, now=10.0) is VoteOutcome.CLOSED  # no such round
    assert await storage.vote_count(round_id) == 2

    ended, votes = await storage.close_round(round_id) or (None, [])
    assert ended is not None and ended.closed and ended.answer == 0 and ended.options == ("fox", "cat", "dog")
    assert votes == [Vote(1, "Ann", 0), Vote(2, "Bob", 1)]  # in the order they came
    assert await storage.close_round(round_id) is None  # ended once only
    assert await storage.vote(round_id, 3, "Cat", 0, now=10.0) is VoteOutcome.CLOSED
    assert await storage.vote_count(round_id) == 2
    assert await storage.leaderboard(-100) == [("Ann", 1)]  # one point for the right one only
    closed = await storage.get_round(round_id)
    assert closed is not None and closed.closed and await storage.open_round_in(-100, 0) is None


async def test_one_open_round_per_chat_and_points_add_up(storage: Storage) -> None:
    first = await storage.open_round(-100, 0, 7, ("fox", "cat"), 1, 0.8, ends_at=50.0)
    assert first is not None
    assert await storage.open_round(-100, 0, 8, ("a", "b"), 0, 0.5, ends_at=50.0) is None
    other = await storage.open_round(-200, 0, 8, ("a", "b"), 0, 0.5, ends_at=50.0)
    assert other is not None and other != first
    assert [r.id for r in await storage.open_rounds()] == [first, other]
    found = await storage.open_round_in(-100, 0)
    assert found is not None and found.id == first and found.options == ("fox", "cat") and found.starter_id == 7
    await storage.set_round_message(first, 555)
    assert (await storage.get_round(first)).message_id == 555  # type: ignore[union-attr]

    await storage.vote(first, 1, "Ann", 1, now=1.0)
    await storage.vote(first, 2, "Bob", 0, now=1.0)
    await storage.close_round(first)
    second = await storage.open_round(-100, 0, 7, ("fox", "cat"), 0, 0.8, ends_at=50.0)
    assert second is not None
    await storage.vote(second, 1, "Ann (renamed)", 0, now=1.0)
    await storage.vote(second, 2, "Bob", 0, now=1.0)
    await storage.close_round(second)
    assert await storage.leaderboard(-100) == [("Ann (renamed)", 2), ("Bob", 1)]
    assert await storage.leaderboard(-200) == []


async def test_the_leaderboard_is_cut_at_ten_best_first(storage: Storage) -> None:
    for points in range(1, 13):
        round_id = await storage.open_round(-100, 0, 7, ("a", "b"), 0, 0.5, ends_at=50.0)
        assert round_id is not None
        for player in range(points, 13):  # player n is right in n rounds
            await storage.vote(round_id, player, f"P{player:02d}", 0, now=1.0)
        await storage.close_round(round_id)
    board = await storage.leaderboard(-100)
    assert board == [(f"P{n:02d}", n) for n in range(12, 2, -1)]
    assert await storage.leaderboard(-100, limit=3) == board[:3]


async def test_ties_are_ordered_by_name(storage: Storage) -> None:
    round_id = await storage.open_round(-100, 0, 7, ("a", "b"), 0, 0.5, ends_at=50.0)
    assert round_id is not None
    for user_id, name in ((1, "Zoe"), (2, "Amy"), (3, "Max")):
        await storage.vote(round_id, user_id, name, 0, now=1.0)
    await storage.close_round(round_id)
    assert await storage.leaderboard(-100) == [("Amy", 1), ("Max", 1), ("Zoe", 1)]


async def test_labels_language_and_notes(storage: Storage) -> None:
    assert await storage.get_labels(1) is None
    await storage.set_labels(1, ("лиса", "owl"))
    await storage.set_labels(1, ("fox", "owl"))
    assert await storage.get_labels(1) == ("fox", "owl")
    await storage.reset_labels(1)
    assert await storage.get_labels(1) is None
    assert await storage.get_language(1) is None
    await storage.set_language(1, "ru")
    await storage.set_language(1, "en")
    assert await storage.get_language(1) == "en"
    assert await storage.first_time(1, "latin") is True
    assert await storage.first_time(1, "latin") is False
    assert await storage.first_time(2, "latin") is True


async def test_what_is_acknowledged_is_on_disk(storage: Storage) -> None:
    await storage.set_labels(5, ("fox", "owl"))
    round_id = await storage.open_round(-100, 0, 7, ("a", "b"), 0, 0.5, ends_at=50.0)
    assert round_id is not None
    await storage.vote(round_id, 1, "Ann", 0, now=1.0)
    with sqlite3.connect(storage.path) as db:  # another connection sees every commit at once
        assert db.execute("SELECT labels FROM chat_labels WHERE chat_id = 5").fetchone() == ('["fox", "owl"]',)
        assert db.execute("SELECT count(*) FROM votes").fetchone() == (1,)
    db.close()
