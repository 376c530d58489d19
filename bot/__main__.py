"""python -m bot: read the settings (environment and .env) and run the bot."""

from __future__ import annotations

import logging
import sys

from telegram.error import InvalidToken, NetworkError

from bot.app import run
from bot.logs import setup_logging
from bot.settings import BotSettings
from bot.storage import StorageError
from classifier import ModelLoadError, SettingsError
from classifier.memory import check_memory
from classifier.settings import read_environment


def main() -> int:
    try:
        settings = BotSettings.from_env(read_environment())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.token)
    log = logging.getLogger("bot")
    clip = settings.classifier
    try:
        # Before anything is loaded: a model the machine cannot hold is refused now, not killed mid-conversation.
        check_memory(clip.model, clip.pretrained, clip.precision, clip.device, settings.memory_available_mb)
        run(settings)
    except (ModelLoadError, StorageError) as exc:
        log.error("%s", exc)
        return 1
    except InvalidToken:
        log.error("Telegram refused TELEGRAM_BOT_TOKEN; check it with @BotFather.")
        return 1
    except NetworkError as exc:
        log.error("Could not reach the Telegram Bot API at %s (%s); check the network or TELEGRAM_BASE_URL.",
                  settings.base_url or "api.telegram.org", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
