"""One picture, one encoding: callers of the same picture key share the embedding on its way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import torch

from classifier.batching.labeljobs import consume


class SingleFlight:
    """Per picture key, at most one encoding on its way; every caller of that key awaits it.

    A caller who leaves never cancels the others' encoding (it is shielded). When the encoding ends,
    the key leaves: from then on it is cached, or, after a failure, the next caller tries again (a
    failure is shared by those waiting at the time and never kept).
    """

    def __init__(self, on_landed: Callable[[], None]) -> None:
        self._flights: dict[str, asyncio.Task[torch.Tensor]] = {}
        self._on_landed = on_landed  # called once the key has left, whatever the outcome

    def __len__(self) -> int:
        return len(self._flights)

    def board(self, key: str, encode: Callable[[], Awaitable[torch.Tensor]],
              ) -> tuple[asyncio.Future[torch.Tensor], bool]:
        """The embedding of key on its way (started with encode() when none is), to await; and whether
        this caller joined an encoding already on its way."""
        flight = self._flights.get(key)
        joined = flight is not None
        if flight is None:
            flight = self._flights[key] = asyncio.ensure_future(self._fly(key, encode))
            flight.add_done_callback(consume)
        return asyncio.shield(flight), joined

    async def _fly(self, key: str, encode: Callable[[], Awaitable[torch.Tensor]]) -> torch.Tensor:
        try:
            return await encode()
        finally:
            del self._flights[key]
            self._on_landed()
