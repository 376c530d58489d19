"""The worker's schedule on its own: which step runs next, and how big a text chunk is."""

from __future__ import annotations

import asyncio

import pytest

from classifier.batching.schedule import MIN_TEXT_CHUNK_SECONDS, ChunkSizer, Doorbell, Scheduler, Step, Wake


def steps(scheduler: Scheduler, n: int, **state: object) -> list[Step]:
    return [scheduler.next(**state) for _ in range(n)]  # type: ignore[arg-type]


def test_pictures_and_text_take_turns_pictures_first() -> None:
    both = {"pictures": True, "text": True, "closing": False, "unanswered": 5}
    assert steps(Scheduler(), 5, **both) == [Step.IMAGES, Step.TEXT, Step.IMAGES, Step.TEXT, Step.IMAGES]


def test_text_alone_runs_chunk_after_chunk_and_pictures_alone_batch_after_batch() -> None:
    scheduler = Scheduler()
    assert steps(scheduler, 3, pictures=False, text=True, closing=False, unanswered=1) == [Step.TEXT] * 3
    assert steps(scheduler, 3, pictures=True, text=False, closing=False, unanswered=1) == [Step.IMAGES] * 3


def test_a_picture_arriving_during_text_goes_next() -> None:
    scheduler = Scheduler()
    assert scheduler.next(pictures=False, text=True, closing=False, unanswered=1) is Step.TEXT
    assert scheduler.next(pictures=True, text=True, closing=False, unanswered=2) is Step.IMAGES
    assert scheduler.next(pictures=True, text=True, closing=False, unanswered=2) is Step.TEXT


def test_idle_waits_and_stops_only_when_closing_with_nothing_unanswered() -> None:
    scheduler = Scheduler()
    idle = {"pictures": False, "text": False}
    assert scheduler.next(**idle, closing=False, unanswered=0) is Step.WAIT
    assert scheduler.next(**idle, closing=True, unanswered=1) is Step.WAIT  # a picture is still decoding
    assert scheduler.next(**idle, closing=True, unanswered=0) is Step.STOP
    assert scheduler.next(pictures=True, text=False, closing=True, unanswered=1) is Step.IMAGES


def test_chunks_take_about_one_image_batch_of_time() -> None:
    sizer = ChunkSizer()
    assert sizer.size() == 1  # a label's cost is not known yet
    sizer.chunk_done(2, 0.02)  # 10 ms a label
    assert sizer.size() == 5  # the floor: 50 ms
    sizer.batch_done(1.05)  # 0.05 + 0.2 × (1.05 − 0.05) = 0.25 s
    assert sizer.batch_seconds == pytest.approx(0.25)
    assert sizer.size() == 25
    sizer.chunk_done(1, 0.11)  # 0.01 + 0.3 × (0.11 − 0.01) = 0.04 s a label
    assert sizer.label_seconds == pytest.approx(0.04)
    assert sizer.size() == 6
    sizer.chunk_done(0, 5.0)  # an empty chunk teaches nothing
    assert sizer.label_seconds == pytest.approx(0.04)


def test_a_slow_label_still_makes_progress() -> None:
    sizer = ChunkSizer()
    sizer.chunk_done(1, 10 * MIN_TEXT_CHUNK_SECONDS)
    assert sizer.size() == 1


async def test_the_doorbell_names_each_ring_until_reset() -> None:
    bell = Doorbell()
    waiting = asyncio.ensure_future(bell.wait())
    await asyncio.sleep(0)
    assert not waiting.done()
    bell.ring(Wake.PICTURE_QUEUED)
    bell.ring(Wake.CALLER_LEFT)
    await asyncio.wait_for(waiting, 5)
    assert bell.reasons == {Wake.PICTURE_QUEUED, Wake.CALLER_LEFT}
    bell.reset()
    assert bell.reasons == set()
    again = asyncio.ensure_future(bell.wait())
    await asyncio.sleep(0)
    assert not again.done()
    bell.ring(Wake.CLOSING)
    await asyncio.wait_for(again, 5)
