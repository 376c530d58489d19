"""classifier/batching/labeljobs.py: owners take turns, an owner's line has a cap, ownerless sets go set by set."""

from __future__ import annotations

import pytest

from classifier import LabelsWaiting
from classifier.batching.labeljobs import LabelJobs


def words(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


async def test_one_owner_with_many_sets_takes_one_turn_in_every_round() -> None:
    jobs = LabelJobs(on_queued=lambda: None)
    for n in range(30):  # a flood: thirty sets from one chat
        jobs.schedule(words(f"flood{n}-", 50), owner=1, capped=False)
    mine = jobs.schedule(["cat", "dog", "owl"], owner=2)
    taken = [jobs.next_chunk(4) for _ in range(3)]
    assert taken[0] == words("flood0-", 4)  # the flood came first and keeps its turn
    assert taken[1] == ["cat", "dog", "owl"]  # then the other chat, whatever the flood has waiting
    assert list(jobs.turns_taken) == [1, 2, 1]
    jobs.encoded(taken[1])
    assert all(future.done() for future in mine)


async def test_an_owner_past_its_cap_is_refused_and_nothing_is_queued() -> None:
    jobs = LabelJobs(on_queued=lambda: None, per_owner=64)
    jobs.schedule(words("a", 50), owner=1)  # an empty line takes any one set
    with pytest.raises(LabelsWaiting, match="has 50 labels waiting to be encoded; 20 more would pass the limit of 64"):
        jobs.schedule(words("b", 20), owner=1)
    assert jobs.waiting_for(1) == 50 and jobs.labels_in_flight == 50
    jobs.schedule(words("b", 14), owner=1)  # up to the cap is fine
    jobs.schedule(words("a", 50), owner=1)  # labels already on their way are shared, not counted again
    jobs.schedule(words("c", 50), owner=2)  # other chats are not affected
    jobs.schedule(words("d", 50), owner=None)  # nor callers without an owner
    assert jobs.waiting_for(1) == 64
    jobs.encoded(jobs.next_chunk(50))
    jobs.schedule(words("e", 36), owner=1)  # taken by the model thread: room again
    assert jobs.waiting_for(1) == 50


async def test_sets_without_an_owner_take_turns_set_by_set() -> None:
    jobs = LabelJobs(on_queued=lambda: None)
    jobs.schedule(words("first", 40))
    jobs.schedule(["second0", "second1"])
    assert jobs.next_chunk(8) == words("first", 8)
    assert jobs.next_chunk(8) == ["second0", "second1"]
    assert jobs.next_chunk(8) == words("first", 16)[8:]
    assert list(jobs.turns_taken) == [None, None, None]


async def test_a_label_two_owners_want_is_encoded_once_in_the_first_owners_line() -> None:
    jobs = LabelJobs(on_queued=lambda: None)
    first = jobs.schedule(["fox", "wolf"], owner="a")
    second = jobs.schedule(["wolf", "bear"], owner="b")
    assert first[1] is second[0]
    assert jobs.next_chunk(10) == ["fox", "wolf"] and jobs.next_chunk(10) == ["bear"]
    assert not jobs.waiting
