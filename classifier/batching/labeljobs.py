"""Labels waiting for the text encoder: one line per owner (a chat, for the bot), taken in turn a chunk
at a time, a cap on what one owner may have waiting, and one future per label that every caller
waiting for it shares."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Any, cast

Owner = str | int | None  # whoever asks: the bot passes a chat id; None for callers nobody needs to tell apart


class _Anonymous:
    """The line of one label set without an owner (the command line, the default labels): such sets
    take turns set by set, as they always did."""


class LabelsWaiting(RuntimeError):
    """The owner already has as many new labels waiting for the encoder as it may; nothing was queued."""

    def __init__(self, owner: Owner, waiting: int, new: int, limit: int) -> None:
        super().__init__(f"{owner!r} has {waiting} labels waiting to be encoded; {new} more would pass "
                         f"the limit of {limit}.")
        self.owner = owner


class LabelJobs:
    """Owns which labels are being encoded and in which order the model thread takes them.

    A label nobody is encoding yet joins its owner's line; a label another caller is already waiting
    for is not encoded twice, its future is shared. Owners take turns: the model thread takes a chunk
    from the line of the owner whose turn it is, and an owner with labels left goes to the back, so one
    chat's many label sets never hold up another chat's few. An owner (other than None) with labels in
    its line may add more only up to `per_owner` in all; past that, schedule() raises LabelsWaiting.
    """

    def __init__(self, on_queued: Callable[[], None], per_owner: int = 0) -> None:
        self._lines: dict[Hashable, deque[str]] = {}  # an owner's line, or an ownerless set's
        self._turns: deque[Hashable] = deque()  # lines with labels, in turn order
        self._encoding: dict[str, asyncio.Future[None]] = {}  # label -> done when it is in the cache
        self._on_queued = on_queued
        self.per_owner = per_owner  # 0: no cap
        self.turns_taken: deque[Owner] = deque(maxlen=256)  # the owners of the latest chunks, oldest first

    @property
    def waiting(self) -> bool:
        """Whether a chunk is waiting for the model thread."""
        return bool(self._turns)

    @property
    def labels_in_flight(self) -> int:
        """Labels queued or being encoded."""
        return len(self._encoding)

    def waiting_for(self, owner: Owner) -> int:
        """Labels in the owner's line, not yet taken by the model thread."""
        line = self._lines.get(owner)
        return len(line) if line is not None else 0

    def schedule(self, missing: Iterable[str], owner: Owner = None, *,
                 capped: bool = True) -> list[asyncio.Future[None]]:
        """Futures for a set's labels that are not cached; new ones join the owner's line. Raises
        LabelsWaiting, queueing nothing, when they would take the owner's line past the cap (unless
        capped is False: labels a picture already accepted needs again)."""
        missing = list(dict.fromkeys(missing))
        new = [label for label in missing if label not in self._encoding]
        waiting = self.waiting_for(owner)
        # An owner with nothing waiting may always queue one set, whatever its size: no set waits forever.
        if capped and owner is not None and waiting and 0 < self.per_owner < waiting + len(new):
            raise LabelsWaiting(owner, waiting, len(new), self.per_owner)
        loop = asyncio.get_running_loop()
        for label in new:
            future = self._encoding[label] = loop.create_future()
            future.add_done_callback(consume)
        if new:
            place: Hashable = owner if owner is not None else _Anonymous()  # no owner: a line of its own
            line = self._lines.get(place)
            if line is None:
                line = self._lines[place] = deque()
                self._turns.append(place)
            line.extend(new)
            self._on_queued()
        return [self._encoding[label] for label in missing]

    def next_chunk(self, size: int) -> list[str]:
        """Up to size labels of the owner whose turn it is; an owner with labels left goes to the back."""
        place = self._turns.popleft()
        line = self._lines[place]
        chunk = [line.popleft() for _ in range(min(size, len(line)))]
        if line:
            self._turns.append(place)
        else:
            del self._lines[place]
        self.turns_taken.append(None if isinstance(place, _Anonymous) else cast(Owner, place))
        return chunk

    def encoded(self, chunk: list[str]) -> None:
        for label in chunk:
            self._encoding.pop(label).set_result(None)

    def failed(self, chunk: list[str], exc: BaseException) -> None:
        for label in chunk:
            self._encoding.pop(label).set_exception(exc)


async def encoded(labels_ready: list[asyncio.Future[None]]) -> None:
    """Wait until labels are encoded, never cancelling them (other callers share them); their
    encoding's failure is this caller's too."""
    if labels_ready:
        await asyncio.wait(labels_ready)
        for ready in labels_ready:
            ready.result()


def consume(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen: labels encoded for nobody in particular must not warn when they fail."""
    if not future.cancelled():
        future.exception()
