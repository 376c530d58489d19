"""python -m bot: read the settings (environment and .env) and run the bot.

python -m bot bench [--json] [--seconds S] [--random-weights]: the whole system's benchmark
(README, Performance); it needs no token and never talks to Telegram.

python -m bot backup PATH: a consistent copy of DATABASE_PATH at PATH, safe while the bot runs
(README, Operating toonclip); it needs no token and never talks to Telegram.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from telegram.error import InvalidToken, NetworkError

from bot.app import run
from bot.ops.logs import setup_logging
from bot.ops.server import MetricsPortError
from bot.settings import BotSettings, database_path, log_format
from bot.state.storage import StorageError
from classifier import ClassifierSettings, ModelLoadError, SettingsError
from classifier.model.memory import check_memory
from classifier.settings import read_environment


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command")
    bench = commands.add_parser("bench", help="measure the classifier and the bot (see README, Performance)")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    bench.add_argument("--seconds", type=float, default=3.0, help="time per throughput measurement")
    bench.add_argument("--random-weights", action="store_true",
                       help="the configured architecture with random weights: timing only, no download")
    backup = commands.add_parser("backup", help="copy the database consistently, even while the bot runs")
    backup.add_argument("path", type=Path, help="the backup file to write (replaced atomically if it exists)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bench":
        return _bench(args)
    if args.command == "backup":
        return _backup(args.path)
    try:
        settings = BotSettings.from_env(read_environment())
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.token, log_format=settings.log_format)
    log = logging.getLogger("bot")
    clip = settings.classifier
    try:
        # Before anything is loaded: a model the machine cannot hold is refused now, not killed mid-conversation.
        check_memory(clip.model, clip.pretrained, clip.precision, clip.device, settings.memory_available_mb)
        run(settings)
    except (ModelLoadError, StorageError, MetricsPortError) as exc:
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


def _backup(path: Path) -> int:
    from bot.ops.backup import backup

    try:
        env = read_environment()
        setup_logging("", log_format=log_format(env))
        done = backup(database_path(env), path)
    except (SettingsError, StorageError) as exc:
        logging.getLogger("bot").error("%s", exc)
        return 1
    logging.getLogger("bot").info("Backed up %s to %s (%d bytes, %.2f s)", database_path(env), done.path,
                                  done.bytes, done.seconds)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from bot.bench import run_bench

    try:
        settings = ClassifierSettings.from_env(read_environment())
        if args.random_weights:
            settings = replace(settings, pretrained="")
        return run_bench(settings, seconds=args.seconds, as_json=args.json)
    except (SettingsError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
