from __future__ import annotations

from bot.state.ratelimit import UserRateLimit, Verdict


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


def test_a_picture_counts_for_exactly_one_window() -> None:
    clock = Clock()
    limit = UserRateLimit(2, clock=clock)  # the default window: a minute
    assert limit.check(1) is Verdict.ALLOW  # at 0
    clock.now = 30.0
    assert limit.check(1) is Verdict.ALLOW
    assert limit.check(1) is Verdict.WARN
    clock.now = 59.9
    assert limit.check(1) is Verdict.DROP
    clock.now = 60.0  # the picture at 0 no longer counts; the one at 30 still does
    assert limit.check(1) is Verdict.ALLOW
    assert limit.check(1) is Verdict.WARN  # a new window, a new warning


def test_a_limit_of_one() -> None:
    limit = UserRateLimit(1, clock=Clock())
    assert [limit.check(7) for _ in range(3)] == [Verdict.ALLOW, Verdict.WARN, Verdict.DROP]


def test_users_idle_for_a_whole_window_are_forgotten_and_warned_afresh() -> None:
    clock = Clock()
    limit = UserRateLimit(1, window=60, clock=clock)
    assert [limit.check(1) for _ in range(2)] == [Verdict.ALLOW, Verdict.WARN]  # user 1 warned at 0
    clock.now = 50.0
    limit.check(2)
    clock.now = 60.0  # a sweep: user 1 has been idle for exactly a window, user 2 for 10 s
    limit.check(3)
    assert limit.tracked() == 2  # users 2 and 3
    assert [limit.check(2) for _ in range(2)] == [Verdict.WARN, Verdict.DROP]  # 2 is still limited
    assert [limit.check(1) for _ in range(2)] == [Verdict.ALLOW, Verdict.WARN]  # 1 starts over, told again


def test_the_sweep_waits_a_window_from_the_last_one() -> None:
    clock = Clock()
    clock.now = 1000.0
    limit = UserRateLimit(3, window=60, clock=clock)
    limit.check(1)
    clock.now = 1059.0
    limit.check(2)
    assert limit.tracked() == 2  # no sweep before a window has passed
    clock.now = 1119.0  # a sweep at 1060 or later: user 1 is gone, user 2 (60 s idle) too
    limit.check(3)
    assert limit.tracked() == 1


def test_idle_users_are_swept_at_most_once_a_window() -> None:
    clock = Clock()
    limit = UserRateLimit(3, window=60, clock=clock)
    limit.check(1)
    clock.now = 10.0
    limit.check(1)
    clock.now = 60.0
    limit.check(2)  # a sweep: user 1 was here 50 s ago and stays
    clock.now = 100.0
    limit.check(3)  # user 1 has been idle 90 s, but the last sweep was 40 s ago: no sweep yet
    assert limit.tracked() == 3
    clock.now = 120.0
    limit.check(3)
    assert limit.tracked() == 1  # swept: users 1 and 2 (60 s idle) are gone, 3 stays
