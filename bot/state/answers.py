"""Answers that can still show where the AI looked: in memory only, bounded in count and age.

Per answer message: how to download its picture again (a Telegram file id, never the picture), the
labels it chose from, its label, who asked, and whether anyone in the chat may ask (a game's reveal).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")


@dataclass(frozen=True)
class HeldAnswer(Generic[P]):
    """What "Where?" needs of one answer."""

    picture: P  # where to download the picture again
    labels: tuple[str, ...]
    label: str
    asker: int  # the user (or the chat an anonymous admin posts as) who asked; 0 for nobody in particular
    anyone: bool  # a game's reveal: every member may ask
    at: float


class HeldAnswers(Generic[P]):
    """The latest answers by (chat, message): at most `entries`, none older than `seconds`; the oldest go first."""

    def __init__(self, entries: int, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.entries = entries
        self.seconds = seconds
        self._clock = clock
        self._held: OrderedDict[tuple[int, int], HeldAnswer[P]] = OrderedDict()

    def __len__(self) -> int:
        self._expire()
        return len(self._held)

    def hold(self, chat_id: int, message_id: int, picture: P, labels: tuple[str, ...], label: str, asker: int,
             anyone: bool = False) -> None:
        if self.entries <= 0 or self.seconds <= 0:
            return
        key = (chat_id, message_id)
        self._held.pop(key, None)
        self._held[key] = HeldAnswer(picture, labels, label, asker, anyone, self._clock())
        while len(self._held) > self.entries:
            self._held.popitem(last=False)
        self._expire()

    def get(self, chat_id: int, message_id: int) -> HeldAnswer[P] | None:
        self._expire()
        return self._held.get((chat_id, message_id))

    def latest(self, chat_id: int, asker: int) -> tuple[int, HeldAnswer[P]] | None:
        """(message id, answer) of the chat's newest answer this asker may explain."""
        self._expire()
        for (chat, message_id), held in reversed(self._held.items()):
            if chat == chat_id and (held.asker == asker or held.anyone):
                return message_id, held
        return None

    def forget_chat(self, chat_id: int) -> None:
        for key in [key for key in self._held if key[0] == chat_id]:
            del self._held[key]

    def forget_asker(self, asker: int) -> None:
        """Every answer this user asked for, in every chat (/forget me)."""
        for key in [key for key, held in self._held.items() if held.asker == asker]:
            del self._held[key]

    def _expire(self) -> None:
        oldest = self._clock() - self.seconds
        while self._held and next(iter(self._held.values())).at < oldest:
            self._held.popitem(last=False)
