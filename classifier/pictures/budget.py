"""One budget of decode memory shared by every decode thread: a semaphore counted in bytes."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class DecodeBudget:
    """Bytes that pictures being decoded may hold at once, whatever the number of threads.

    Each picture reserves its worst case (classifier/pictures/footprint.py) before any pixel is
    decoded and gives it back when it is done. Threads decode side by side while their reservations
    fit; one that does not fit waits until enough is given back. Waiters are served in the order
    they came, so a big picture is not passed over forever by small ones. A reservation larger than
    the whole budget could never be served: the caller refuses that picture instead (fits()).
    """

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError(f"A decode budget of {total} bytes cannot hold any picture.")
        self.total = total
        self._used = 0
        self._line: deque[object] = deque()
        self._changed = threading.Condition()

    @property
    def used(self) -> int:
        """Bytes reserved now."""
        with self._changed:
            return self._used

    def fits(self, size: int) -> bool:
        """Whether a reservation of size bytes can ever be served."""
        return size <= self.total

    def acquire(self, size: int) -> None:
        """Block until size bytes are free and reserve them (ValueError when they never can be)."""
        if not self.fits(size):
            raise ValueError(f"{size} bytes is more than the whole decode budget of {self.total}.")
        ticket = object()
        with self._changed:
            self._line.append(ticket)
            try:
                self._changed.wait_for(lambda: self._line[0] is ticket and self._used + size <= self.total)
            except BaseException:
                self._line.remove(ticket)
                self._changed.notify_all()
                raise
            self._line.popleft()
            self._used += size
            self._changed.notify_all()  # the next in line may fit beside this one

    def release(self, size: int) -> None:
        """Give back bytes reserved with acquire()."""
        with self._changed:
            self._used -= size
            self._changed.notify_all()

    @contextmanager
    def reserved(self, size: int) -> Iterator[None]:
        """acquire(size) for the length of a with block."""
        self.acquire(size)
        try:
            yield
        finally:
            self.release(size)
