"""The bot's settings, read once from the environment and .env."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from classifier.settings import ClassifierSettings, EnvReader, SettingsError

DEFAULT_DATABASE_PATH = Path("data/toonclip.sqlite3")
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class BotSettings:
    """Everything the bot can be told; see .env.example for each one."""

    token: str
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)
    base_url: str | None = None
    base_file_url: str | None = None
    database_path: Path = DEFAULT_DATABASE_PATH
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_listen: str = "127.0.0.1"  # behind the TLS proxy Telegram needs anyway
    webhook_port: int = 8443
    webhook_max_body_kb: int = 1024  # a POST over this is refused before it is read
    concurrent_updates: int = 256
    open_set: bool = True  # a chat's default for "none of these" answers (/settings)
    rate_limit_per_minute: int = 20  # pictures per sender
    # Every update counts (commands, text, buttons, pictures): per sender, and per chat (docs/limits.md)
    updates_per_minute_per_user: int = 20
    updates_per_minute_per_chat: int = 30  # Telegram lets a bot send a group 20 messages a minute
    reply_max_age_seconds: float = 60.0  # an answer that could only be sent later than this after its update is not
    game_round_seconds: float = 30.0
    # A removed or blocked chat's data is deleted this many days later, unless the bot is back (0: at once).
    forget_after_days: int = 30
    forget_check_seconds: float = 3600.0  # how often chats due to be forgotten are looked for
    rounds_keep_days: float = 30.0  # closed game rounds and their votes are deleted this long after (scores stay)
    album_wait_seconds: float = 2.0  # how long an album's photo waits for the album's caption
    # Answers whose "Where?" can still be shown: the file to download again, never the picture (in memory)
    where_answers: int = 10_000
    where_hours: float = 24.0
    # What time it is, in Unix seconds, for forgetting: tests pass a clock they can move.
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    poll_timeout_seconds: float = 10.0
    # Telegram HTTP timeouts for a loaded bot, not python-telegram-bot's 5 s (README, Limits and safety)
    connect_timeout_seconds: float = 10.0
    read_timeout_seconds: float = 30.0
    write_timeout_seconds: float = 30.0
    pool_timeout_seconds: float = 30.0
    # Memory the start-up check assumes is free, in MB; None: measured (README, Requirements)
    memory_available_mb: float | None = None
    # The operator's side (README, Operating toonclip)
    metrics_port: int | None = None  # /metrics and /healthz; off when None, any free port when 0
    metrics_listen: str = "127.0.0.1"
    health_poll_age_seconds: float = 60.0  # /healthz fails when no getUpdates was answered for this long
    admin_user_ids: frozenset[int] = frozenset()  # who may use /stats
    log_format: str = "text"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BotSettings:
        """Build settings from a mapping of environment variables; TELEGRAM_BOT_TOKEN is required."""
        get = EnvReader(env)
        token = get.text("TELEGRAM_BOT_TOKEN", "")
        if not token:
            raise SettingsError(
                "TELEGRAM_BOT_TOKEN is not set: get a token from @BotFather and put it in .env "
                "(see .env.example)."
            )
        defaults = cls(token=token)
        webhook_url = get.text("WEBHOOK_URL", "") or None
        webhook_secret = get.text("WEBHOOK_SECRET", "") or None
        if webhook_url and not webhook_secret:
            raise SettingsError("WEBHOOK_SECRET must be set when WEBHOOK_URL is: Telegram sends it with "
                                "every update so the bot can refuse forged ones.")
        poll_timeout = get.number("POLL_TIMEOUT_SECONDS", defaults.poll_timeout_seconds, float, 0)
        return cls(
            token=token,
            classifier=ClassifierSettings.from_env(env),
            base_url=get.text("TELEGRAM_BASE_URL", "") or None,
            base_file_url=get.text("TELEGRAM_BASE_FILE_URL", "") or None,
            database_path=database_path(env),
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            webhook_listen=get.text("WEBHOOK_LISTEN", defaults.webhook_listen),
            webhook_port=get.number("WEBHOOK_PORT", defaults.webhook_port, int, 1),
            open_set=get.choice("OPEN_SET", "on" if defaults.open_set else "off", ("on", "off")) == "on",
            webhook_max_body_kb=get.number("WEBHOOK_MAX_BODY_KB", defaults.webhook_max_body_kb, int, 64),
            concurrent_updates=get.number("CONCURRENT_UPDATES", defaults.concurrent_updates, int, 1),
            rate_limit_per_minute=get.number("RATE_LIMIT_PER_MINUTE", defaults.rate_limit_per_minute, int, 0),
            updates_per_minute_per_user=get.number("UPDATES_PER_MINUTE_PER_USER", defaults.updates_per_minute_per_user,
                                                   int, 0),
            updates_per_minute_per_chat=get.number("UPDATES_PER_MINUTE_PER_CHAT", defaults.updates_per_minute_per_chat,
                                                   int, 0),
            reply_max_age_seconds=get.number("REPLY_MAX_AGE_SECONDS", defaults.reply_max_age_seconds, float, 1),
            game_round_seconds=get.number("GAME_ROUND_SECONDS", defaults.game_round_seconds, float, 1),
            forget_after_days=get.number("FORGET_AFTER_DAYS", defaults.forget_after_days, int, 0),
            forget_check_seconds=get.number("FORGET_CHECK_SECONDS", defaults.forget_check_seconds, float, 1),
            rounds_keep_days=get.number("ROUNDS_KEEP_DAYS", defaults.rounds_keep_days, float, 0),
            album_wait_seconds=get.number("ALBUM_WAIT_SECONDS", defaults.album_wait_seconds, float, 0),
            where_answers=get.number("WHERE_ANSWERS", defaults.where_answers, int, 0),
            where_hours=get.number("WHERE_HOURS", defaults.where_hours, float, 0),
            poll_timeout_seconds=poll_timeout,
            connect_timeout_seconds=get.number("TELEGRAM_CONNECT_TIMEOUT_SECONDS", defaults.connect_timeout_seconds,
                                               float, 0.1),
            read_timeout_seconds=get.number("TELEGRAM_READ_TIMEOUT_SECONDS", defaults.read_timeout_seconds, float, 0.1),
            write_timeout_seconds=get.number("TELEGRAM_WRITE_TIMEOUT_SECONDS", defaults.write_timeout_seconds,
                                             float, 0.1),
            pool_timeout_seconds=get.number("TELEGRAM_POOL_TIMEOUT_SECONDS", defaults.pool_timeout_seconds, float, 0.1),
            memory_available_mb=get.number("MEMORY_AVAILABLE_MB", None, float, 0),
            metrics_port=_port(get, "METRICS_PORT"),
            metrics_listen=get.text("METRICS_LISTEN", defaults.metrics_listen),
            health_poll_age_seconds=_poll_age(get, poll_timeout),
            admin_user_ids=_user_ids(get.text("ADMIN_USER_IDS", "")),
            log_format=log_format(env),
        )


def database_path(env: Mapping[str, str]) -> Path:
    """DATABASE_PATH alone: `python -m bot backup` needs nothing else (and no token)."""
    return Path(EnvReader(env).text("DATABASE_PATH", str(DEFAULT_DATABASE_PATH)))


def log_format(env: Mapping[str, str]) -> str:
    """LOG_FORMAT alone: text (the default) or json, one object a line."""
    return EnvReader(env).choice("LOG_FORMAT", "text", LOG_FORMATS)


def _port(get: EnvReader, name: str) -> int | None:
    if not get.text(name, ""):
        return None
    port = get.number(name, 0, int, 0)
    if port > 65535:
        raise SettingsError(f"{name} must be a port number up to 65535, not {port}.")
    return port


def _poll_age(get: EnvReader, poll_timeout: float) -> float:
    age = get.number("HEALTH_POLL_AGE_SECONDS", BotSettings.health_poll_age_seconds, float, 1)
    if age <= poll_timeout:
        raise SettingsError(f"HEALTH_POLL_AGE_SECONDS ({age:g}) must be longer than POLL_TIMEOUT_SECONDS "
                            f"({poll_timeout:g}): a long poll that waits its full time is no sign of trouble.")
    return age


def _user_ids(raw: str) -> frozenset[int]:
    ids = [part.strip() for part in raw.replace(",", " ").split()]
    try:
        return frozenset(int(part) for part in ids)
    except ValueError:
        raise SettingsError(f"ADMIN_USER_IDS must be Telegram user ids separated by commas, not '{raw}'.") from None
