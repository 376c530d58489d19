"""python -m bot: read the settings (environment and .env) and run the bot."""

from __future__ import annotations

import logging
import sys

from bot.app import run
from bot.logs import setup_logging
from bot.settings import BotSettings
from bot.storage import StorageError
from classifier import ModelLoadError, SettingsError
from classifier.settings import read_environment


def main() -> int:
    try:
        settings = BotSettings.from_env(read_environment())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.token)
    try:
        run(settings)
    except (ModelLoadError, StorageError) as exc:
        logging.getLogger("bot").error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
