"""A percentile of recorded values, the one way the bot computes one (/stats, the bench's loop lag)."""

from __future__ import annotations

from collections.abc import Iterable

DAY_MINUTES = 24 * 60


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) by the nearest rank of the sorted values; None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
