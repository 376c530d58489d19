"""What "Where?" holds: bounded in count and age, latest first, forgotten on request."""

from __future__ import annotations

from bot.state.answers import HeldAnswers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_held_answers_are_bounded_in_count_and_age() -> None:
    clock = Clock()
    held: HeldAnswers[str] = HeldAnswers(entries=2, seconds=60, clock=clock)
    for message_id in (1, 2, 3):
        held.hold(-5, message_id, f"file{message_id}", ("cat", "dog"), "cat", asker=7)
    assert held.get(-5, 1) is None and held.get(-5, 3) is not None  # the oldest went first
    clock.now += 61
    assert held.get(-5, 3) is None and len(held) == 0  # a day (here a minute) later, nothing


def test_latest_is_the_askers_own_or_a_reveal_and_forgetting_drops_them() -> None:
    held: HeldAnswers[str] = HeldAnswers(entries=10, seconds=60, clock=Clock())
    held.hold(-5, 1, "a", ("cat", "dog"), "cat", asker=7)
    held.hold(-5, 2, "b", ("cat", "dog"), "dog", asker=8)
    assert held.latest(-5, 7) == (1, held.get(-5, 1))
    held.hold(-5, 3, "c", ("cat", "dog"), "dog", asker=0, anyone=True)
    assert held.latest(-5, 7) == (3, held.get(-5, 3))
    held.forget_asker(7)
    assert held.get(-5, 1) is None and held.get(-5, 2) is not None
    held.forget_chat(-5)
    assert len(held) == 0
    off: HeldAnswers[str] = HeldAnswers(entries=0, seconds=60)
    off.hold(-5, 1, "a", ("cat", "dog"), "cat", asker=7)
    assert off.get(-5, 1) is None  # WHERE_ANSWERS=0 holds nothing
