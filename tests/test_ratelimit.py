from __future__ import annotations

from bot.ratelimit import UserRateLimit, Verdict


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_window_slides_and_warning_comes_once() -> None:
    clock = Clock()
    limit = UserRateLimit(2, window=60, clock=clock)
    assert [limit.check(1) for _ in range(4)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN, Verdict.DROP]
    assert limit.check(2) is Verdict.ALLOW  # others are unaffected
    clock.now = 60.0
    assert limit.check(1) is Verdict.ALLOW  # the window passed: allowed again, and warned again later
    assert limit.check(1) is Verdict.ALLOW
    assert limit.check(1) is Verdict.WARN


def test_idle_users_are_forgotten() -> None:
    clock = Clock()
    limit = UserRateLimit(5, window=60, clock=clock)
    for user in range(1000):
        limit.check(user)
    assert limit.tracked() == 1000
    clock.now = 61.0
    limit.check(5000)
    assert limit.tracked() == 1


def test_zero_turns_the_limit_off() -> None:
    limit = UserRateLimit(0)
    assert all(limit.check(1) is Verdict.ALLOW for _ in range(1000))
