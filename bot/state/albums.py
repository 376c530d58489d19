"""An album's caption applies to every photo of the album.

Telegram puts an album's caption on its first message only, and delivers each photo as an update of
its own, interleaved with other chats' updates and, since updates run concurrently, possibly out of
order. The caption is remembered per album for a short while; a photo without one waits at most
ALBUM_WAIT_SECONDS for its album's caption, and is then answered on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

KEEP_SECONDS = 120.0  # an album's caption is forgotten this long after its last photo was seen
MAX_ALBUMS = 10_000  # albums remembered at most; the oldest go first


@dataclass
class _Album:
    seen_at: float
    caption: str | None = None
    captioned: asyncio.Event = field(default_factory=asyncio.Event)


class Albums:
    """media group -> its caption, for the album's photos that have none; short-lived and bounded."""

    def __init__(self, wait_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.wait_seconds = wait_seconds
        self._clock = clock
        self._albums: dict[tuple[int, str], _Album] = {}

    def _album(self, chat_id: int, group_id: str) -> _Album:
        now = self._clock()
        while self._albums:  # insertion order is first-seen order: the stale ones are at the front
            key, oldest = next(iter(self._albums.items()))
            if now - oldest.seen_at < KEEP_SECONDS and len(self._albums) < MAX_ALBUMS:
                break
            del self._albums[key]
        album = self._albums.setdefault((chat_id, group_id), _Album(now))
        album.seen_at = now
        return album

    def captioned(self, chat_id: int, group_id: str, caption: str) -> None:
        """The album's captioned message arrived: its photos follow this caption."""
        album = self._album(chat_id, group_id)
        album.caption = caption
        album.captioned.set()

    async def caption_of(self, chat_id: int, group_id: str) -> str | None:
        """The album's caption, waiting for it at most wait_seconds; None when it has none (yet)."""
        album = self._album(chat_id, group_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(album.captioned.wait(), self.wait_seconds)
        return album.caption
