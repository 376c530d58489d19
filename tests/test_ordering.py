"""bot/transport/ordering.py: a chat's changes wait for what came before them there, and what follows waits for them.

The processor is driven directly with real Update objects and handler coroutines that each wait on
an event of their own, so a test decides when each one finishes; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime

import pytest
from telegram import Chat, Message, Update

from bot.app import changes_chat_state
from bot.transport.ordering import ChatOrderedUpdateProcessor

_ids = iter(range(1, 1_000_000))


def update(chat_id: int | None, text: str = "photo") -> Update:
    if chat_id is None:
        return Update(next(_ids))  # an update without a chat (a poll, say)
    message = Message(next(_ids), datetime.now(UTC), Chat(chat_id, Chat.PRIVATE), text=text)
    return Update(next(_ids), message=message)


class Handlers:
    """Handler coroutines that record when they start and finish, each released by name."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    async def _run(self, name: str, fail: bool) -> None:
        self.started.append(name)
        await self.gates[name].wait()
        self.finished.append(name)
        if fail:
            raise RuntimeError(f"{name} failed")

    def handler(self, name: str, fail: bool = False) -> asyncio.Future[None]:
        self.gates[name] = asyncio.Event()
        return self._run(name, fail)  # type: ignore[return-value]

    async def release(self, name: str) -> None:
        self.gates[name].set()
        await settle()


async def settle() -> None:
    """Let every task that can run, run: no I/O here, so a few turns of the loop are enough."""
    for _ in range(20):
        await asyncio.sleep(0)


@pytest.fixture
def processor() -> ChatOrderedUpdateProcessor:
    return ChatOrderedUpdateProcessor(16, changes_chat_state)


def submit(processor: ChatOrderedUpdateProcessor, handlers: Handlers, name: str, chat_id: int | None,
           text: str = "photo", fail: bool = False) -> asyncio.Task[None]:
    return asyncio.ensure_future(processor.process_update(update(chat_id, text), handlers.handler(name, fail)))


async def test_pictures_of_one_chat_and_other_chats_run_side_by_side(processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    tasks = [submit(processor, handlers, name, chat) for name, chat in
             (("a1", 1), ("a2", 1), ("b1", 2), ("none", None))]
    await settle()
    assert handlers.started == ["a1", "a2", "b1", "none"]
    for name in ("a2", "none", "b1", "a1"):
        await handlers.release(name)
    await asyncio.gather(*tasks)
    assert handlers.finished == ["a2", "none", "b1", "a1"]


async def test_a_change_waits_for_earlier_updates_and_later_ones_wait_for_it(
        processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    tasks = [submit(processor, handlers, "photo1", 1), submit(processor, handlers, "photo2", 1),
             submit(processor, handlers, "labels", 1, "/labels fox, wolf"),
             submit(processor, handlers, "photo3", 1), submit(processor, handlers, "other chat", 2)]
    await settle()
    assert handlers.started == ["photo1", "photo2", "other chat"]
    await handlers.release("photo2")
    assert "labels" not in handlers.started  # photo1 is still running
    await handlers.release("photo1")
    assert handlers.started[-1] == "labels" and "photo3" not in handlers.started
    await handlers.release("labels")
    assert handlers.started[-1] == "photo3"
    for name in ("photo3", "other chat"):
        await handlers.release(name)
    await asyncio.gather(*tasks)


async def test_a_change_waits_for_the_previous_change_and_everything_after_it(
        processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    tasks = [submit(processor, handlers, "game", 1, "/game"), submit(processor, handlers, "photo", 1),
             submit(processor, handlers, "reveal", 1, "/reveal@toonclip_bot"), submit(processor, handlers, "after", 1)]
    await settle()
    assert handlers.started == ["game"]
    await handlers.release("game")
    assert handlers.started == ["game", "photo"]  # the photo waited for the game; /reveal waits for the photo
    await handlers.release("photo")
    assert handlers.started == ["game", "photo", "reveal"]
    await handlers.release("reveal")
    assert handlers.started == ["game", "photo", "reveal", "after"]
    await handlers.release("after")
    await asyncio.gather(*tasks)


async def test_a_failed_change_still_lets_the_chat_go_on(processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    change = submit(processor, handlers, "labels", 1, "/labels a, b", fail=True)
    after = submit(processor, handlers, "photo", 1)
    await settle()
    await handlers.release("labels")
    with pytest.raises(RuntimeError):
        await change
    assert handlers.started == ["labels", "photo"]
    await handlers.release("photo")
    await after


async def test_an_update_cancelled_while_waiting_never_starts(processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    change = submit(processor, handlers, "labels", 1, "/labels a, b")
    waiting_coroutine = handlers.handler("photo")
    waiting = asyncio.ensure_future(processor.process_update(update(1), waiting_coroutine))
    await settle()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert inspect.getcoroutinestate(waiting_coroutine) == inspect.CORO_CLOSED  # closed, never run
    assert handlers.started == ["labels"]
    later = submit(processor, handlers, "later", 1)  # the cancelled one holds nobody up
    await handlers.release("labels")
    assert handlers.started == ["labels", "later"]
    await handlers.release("later")
    await asyncio.gather(change, later)


async def test_a_chat_with_nothing_in_flight_is_forgotten(processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    tasks = [submit(processor, handlers, f"u{i}", chat, text) for i, (chat, text) in enumerate(
        [(1, "/labels a, b"), (1, "photo"), (2, "photo"), (3, "/game")])]
    await settle()
    for name in ("u0", "u1", "u2", "u3"):
        await handlers.release(name)
    await asyncio.gather(*tasks)
    # Memory follows chats with updates in flight only (a private attribute: nothing public shows it).
    assert processor.chats_tracked == 0
    # And a chat seen again starts with a clean slate: nothing to wait for.
    again = submit(processor, handlers, "again", 1)
    await settle()
    assert handlers.started[-1] == "again"
    await handlers.release("again")
    await again


async def test_a_finished_change_is_not_waited_for_again(processor: ChatOrderedUpdateProcessor) -> None:
    handlers = Handlers()
    photo = submit(processor, handlers, "photo", 1)
    change = submit(processor, handlers, "labels", 1, "/labels a, b")
    await settle()
    await handlers.release("photo")
    await handlers.release("labels")
    await asyncio.gather(photo, change)
    # A picture still running in the chat, then a new one: neither waits for anything.
    first = submit(processor, handlers, "first", 1)
    second = submit(processor, handlers, "second", 1)
    await settle()
    assert handlers.started[-2:] == ["first", "second"]
    for name in ("first", "second"):
        await handlers.release(name)
    await asyncio.gather(first, second)
    assert processor.chats_tracked == 0


async def test_initialize_and_shutdown_hold_nothing(processor: ChatOrderedUpdateProcessor) -> None:
    async with processor:
        handlers = Handlers()
        task = submit(processor, handlers, "photo", 1)
        await handlers.release("photo")
        await task
    assert handlers.finished == ["photo"]


async def test_waiting_updates_hold_no_slot_and_a_chat_holds_its_share_only() -> None:
    processor = ChatOrderedUpdateProcessor(16, changes_chat_state)  # a chat may hold 16 // 8 = 2 slots
    handlers = Handlers()
    flood = [submit(processor, handlers, f"flood{i}", 1) for i in range(6)]
    behind = submit(processor, handlers, "labels", 3, "/labels a, b")
    change = submit(processor, handlers, "after labels", 3)
    other = submit(processor, handlers, "other chat", 2)
    await settle()
    assert handlers.started == ["flood0", "flood1", "labels", "other chat"]
    assert processor.running == 4  # four of the flood, and chat 3's photo, wait without a slot
    await handlers.release("flood0")
    assert handlers.started[-1] == "flood2"
    for name in ["labels", "after labels", "other chat", *(f"flood{i}" for i in range(1, 6))]:
        await handlers.release(name)
    await asyncio.gather(*flood, behind, change, other)
    assert processor.running == 0 and processor.current_concurrent_updates == 0
