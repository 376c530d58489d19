"""What the handlers share, owned by the application: settings, the classifier and its worker, storage,
the rate limits, the running game rounds, the chats' lives, the albums' captions and the answers
that can still show where the AI looked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from telegram import Chat, Update
from telegram.ext import ContextTypes

from bot.conversation.maps import Maps
from bot.conversation.rounds import Games
from bot.settings import BotSettings
from bot.state.albums import Albums
from bot.state.lifecycle import ChatLife
from bot.state.options import ChatOptions
from bot.state.ratelimit import UpdateLimit, UserRateLimit
from bot.state.storage import Storage
from bot.words.i18n import Speaker, speaker, speaker_of
from classifier import BatchWorker, ZeroShotClassifier

SERVICES_KEY = "toonclip"  # bot_data key of the Services, set once they have started
SETTINGS_KEY = "toonclip-settings"  # bot_data key of the BotSettings, set when the application is built


@dataclass
class Services:
    settings: BotSettings
    classifier: ZeroShotClassifier
    worker: BatchWorker
    storage: Storage
    rate_limit: UserRateLimit  # pictures
    update_limit: UpdateLimit  # every update
    games: Games
    chats: ChatLife
    albums: Albums
    options: ChatOptions
    maps: Maps

    async def labels_for(self, chat_id: int) -> tuple[str, ...]:
        """The chat's label set, or the default one."""
        return await self.storage.get_labels(chat_id) or self.settings.classifier.default_labels

    async def speaker_for(self, update: Update) -> Speaker:
        """The language the chat chose with /language, else that of whoever sent the update."""
        chat = update.effective_chat
        chosen = await self.storage.get_language(chat.id) if chat is not None else None
        return speaker(chosen) if chosen else speaker_of(update.effective_user)


def is_group(chat: Chat | None) -> bool:
    return chat is not None and chat.type != Chat.PRIVATE


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return cast(Services, context.bot_data[SERVICES_KEY])
