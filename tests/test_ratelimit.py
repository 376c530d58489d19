from __future__ import annotations

from bot.state.ratelimit import Notes, SlidingWindow, UpdateLimit, UserRateLimit, Verdict


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
    assert limit.check(1) is Verdict.DROP  # told at 30: not again within the minute
    clock.now = 90.0  # the picture at 30 no longer counts; the one at 60 does
    assert limit.check(1) is Verdict.ALLOW
    assert limit.check(1) is Verdict.WARN  # a minute after the last note, a new one


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


def test_a_sender_is_told_once_a_minute_however_they_keep_on() -> None:
    clock = Clock()
    limit = UserRateLimit(20, clock=clock)
    verdicts = []
    for second in range(180):  # a picture a second for three minutes: 60 a minute against a limit of 20
        clock.now = float(second)
        verdicts.append((second, limit.check(1)))
    told = [second for second, verdict in verdicts if verdict is Verdict.WARN]
    assert told == [20, 80, 140]  # never twice within a minute, though slots kept freeing up in between
    assert sum(verdict is Verdict.ALLOW for _, verdict in verdicts) == 60


def test_updates_count_for_the_sender_and_the_chat_and_notes_are_shared() -> None:
    clock = Clock()
    notes = Notes(clock=clock)
    updates = UpdateLimit(per_sender=3, per_chat=5, notes=notes, clock=clock)
    pictures = UserRateLimit(2, clock=clock, notes=notes)
    assert [updates.check(1, -10) for _ in range(5)] == [Verdict.ALLOW] * 3 + [Verdict.WARN, Verdict.DROP]
    # The flooder's refused updates did not use up the group: two others still get through, then it is full.
    assert [updates.check(2, -10), updates.check(3, -10), updates.check(4, -10)] == [
        Verdict.ALLOW, Verdict.ALLOW, Verdict.DROP]
    assert updates.check(4, -20) is Verdict.ALLOW  # another chat is unaffected
    # The sender told about updates is not told again about pictures within the minute.
    assert [pictures.check(1) for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.DROP]
    assert [pictures.check(5) for _ in range(3)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.WARN]


def test_a_chat_over_its_limit_is_never_told_and_zero_turns_limits_off() -> None:
    clock = Clock()
    updates = UpdateLimit(per_sender=0, per_chat=2, notes=Notes(clock=clock), clock=clock)
    assert [updates.check(n, -10) for n in range(4)] == [Verdict.ALLOW, Verdict.ALLOW, Verdict.DROP, Verdict.DROP]
    assert all(updates.check(1, None) is Verdict.ALLOW for _ in range(100))  # no chat: the sender's limit only
    window = SlidingWindow(0, clock=clock)
    assert all(window.take("anyone") for _ in range(1000))
