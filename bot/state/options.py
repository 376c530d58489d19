"""A chat's switches (/settings): what each one is, its default, and the chat's own choices."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

from bot.state.storage import Storage


class ChatOption(Enum):
    """A behaviour a chat can turn on or off; the value is its name in the database and in buttons."""

    OPEN_SET = "open_set"  # say "none of these" when the picture shows none of the chat's labels
    REVEAL_MAP = "reveal_map"  # send where the AI looked at each game's reveal


class ChatOptions:
    """The chat's switches: its own choice where it made one, else the default."""

    def __init__(self, storage: Storage, defaults: Mapping[ChatOption, bool]) -> None:
        self._storage = storage
        self._defaults = dict(defaults)

    async def enabled(self, chat_id: int, option: ChatOption) -> bool:
        chosen = await self._storage.get_option(chat_id, option.value)
        return self._defaults[option] if chosen is None else chosen

    async def all(self, chat_id: int) -> dict[ChatOption, bool]:
        """Every switch of the chat, in the order ChatOption lists them."""
        chosen = await self._storage.get_options(chat_id)
        return {option: chosen.get(option.value, self._defaults[option]) for option in ChatOption}

    async def toggle(self, chat_id: int, option: ChatOption) -> bool:
        """Turn a switch the other way (committed); its new state."""
        now = not await self.enabled(chat_id, option)
        await self._storage.set_option(chat_id, option.value, now)
        return now
