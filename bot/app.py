"""The one place that assembles the bot: services, handlers, lifecycle."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import BotCommand, LinkPreviewOptions, Message, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.conversation import chatsettings, floods, forgetting, game, handlers, where
from bot.conversation.maps import WHERE_PREFIX, Maps
from bot.conversation.rounds import CALLBACK_PREFIX, Games
from bot.conversation.services import SERVICES_KEY, SETTINGS_KEY, Services
from bot.conversation.turn import command_word
from bot.ops import runtime
from bot.ops.stats import stats
from bot.settings import BotSettings
from bot.state.albums import Albums
from bot.state.answers import HeldAnswers
from bot.state.lifecycle import ChatLife
from bot.state.options import ChatOption, ChatOptions
from bot.state.ratelimit import Notes, UpdateLimit, UserRateLimit
from bot.state.storage import Storage
from bot.telemetry import trace
from bot.telemetry.metrics import METRICS_KEY, Metrics, WorkerMetrics
from bot.transport.delivery import ChatDelivery
from bot.transport.ordering import ChatOrderedUpdateProcessor
from bot.transport.requests import ObservedRequest
from bot.transport.webhook import WebhookServer
from bot.words import screens
from bot.words.i18n import DEFAULT_LANGUAGE, LANGUAGES, readers_of, speaker
from classifier import create_classifier, create_worker

logger = logging.getLogger(__name__)

PICTURES = (filters.PHOTO | filters.Sticker.ALL | filters.Document.ALL | filters.ANIMATION | filters.VIDEO
            | filters.VIDEO_NOTE)
CLASSIFY_CAPTION = filters.CaptionRegex(r"^/classify(@\w+)?(\s|$)")
GAME_CAPTION = filters.CaptionRegex(r"^/game(@\w+)?(\s|$)")
# Commands that change a chat's state: the chat's later updates wait for them (bot/transport/ordering.py).
STATE_COMMANDS = frozenset({"labels", "game", "reveal", "language", "forget"})


class _AlbumPart(filters.MessageFilter):
    """A message of an album (it has a media_group_id)."""

    def filter(self, message: Message) -> bool:
        return message.media_group_id is not None


ALBUM = _AlbumPart(name="album")


def changes_chat_state(update: Update) -> bool:
    """Whether the update is a command that changes its chat's labels or game round, or an upgrade's
    service message (which moves the chat's data)."""
    message = update.effective_message
    if message is not None and (message.migrate_to_chat_id or message.migrate_from_chat_id):
        return True
    if message is not None and message.media_group_id is not None:
        return False  # an album's other photos wait for its caption (even /game): they must not wait behind it
    return command_word((message.text or message.caption) if message is not None else None) in STATE_COMMANDS


def build_application(settings: BotSettings, transport: BaseRequest | None = None) -> Application:
    """The bot with every handler; services start in post_init and stop in post_shutdown.

    transport replaces HTTP to Telegram (the benchmark plays Telegram in process). Either way every
    request passes through ObservedRequest, which counts Telegram's refusals for the metrics.
    """
    metrics = Metrics()
    builder = (
        Application.builder()
        .token(settings.token)
        .concurrent_updates(ChatOrderedUpdateProcessor(settings.concurrent_updates, changes_chat_state))
        # Also follows upgrades and blocks (bot/transport/delivery.py), once the services have started.
        .rate_limiter(ChatDelivery(lambda: _chat_life(application), max_retries=3))
        .post_init(_start_services)
        .post_shutdown(_stop_services)
        # A picture deleted before its answer is ready still gets the answer; no link previews.
        .defaults(Defaults(allow_sending_without_reply=True,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
    )
    requests, polling = _transports(settings, transport)
    builder = builder.request(ObservedRequest(requests, metrics)).get_updates_request(ObservedRequest(polling, metrics))
    if settings.base_url:
        builder = builder.base_url(settings.base_url)
    if settings.base_file_url:
        builder = builder.base_file_url(settings.base_file_url)
    application = builder.build()
    application.bot_data[SETTINGS_KEY] = settings
    application.bot_data[METRICS_KEY] = metrics

    private = filters.ChatType.PRIVATE
    application.add_handlers({
        -4: [TypeHandler(Update, trace.arrived)],  # counts and times every update
        -3: [TypeHandler(Update, handlers.seen)],  # a chat that writes is reachable again
        -2: [TypeHandler(Update, floods.gate)],  # over a rate limit, or too old: dropped here
        -1: [MessageHandler(ALBUM & filters.CAPTION, handlers.remember_album)],  # for the album's other photos
        0: [
            MessageHandler(filters.StatusUpdate.MIGRATE, handlers.migrated),
            ChatMemberHandler(handlers.membership, ChatMemberHandler.MY_CHAT_MEMBER),
            CommandHandler(["start", "help"], handlers.start),
            CommandHandler("labels", handlers.labels),
            CommandHandler("language", handlers.language),
            CommandHandler("classify", handlers.classify),
            MessageHandler(PICTURES & CLASSIFY_CAPTION, handlers.classify),
            CommandHandler("game", game.game),
            MessageHandler(PICTURES & GAME_CAPTION, game.game),
            CommandHandler("reveal", game.reveal),
            CommandHandler("top", game.top),
            CommandHandler("forget", forgetting.forget),
            CommandHandler("privacy", forgetting.privacy),
            CommandHandler("settings", chatsettings.settings),
            CommandHandler("where", where.where),
            CommandHandler("stats", stats, filters=filters.User(user_id=settings.admin_user_ids)),
            CallbackQueryHandler(game.vote, pattern=rf"^{CALLBACK_PREFIX}:"),
            CallbackQueryHandler(forgetting.forget_button, pattern=rf"^{forgetting.FORGET_PREFIX}:"),
            CallbackQueryHandler(chatsettings.settings_button, pattern=rf"^{chatsettings.SETTINGS_PREFIX}:"),
            CallbackQueryHandler(where.where_button, pattern=rf"^{WHERE_PREFIX}$"),
            CallbackQueryHandler(game.unknown_button),
            MessageHandler(filters.PHOTO & ALBUM & ~filters.CAPTION, handlers.album_picture),
            MessageHandler(private & PICTURES & ~filters.CaptionRegex(r"^/"), handlers.picture),
            MessageHandler(private & filters.TEXT & ~filters.COMMAND, handlers.private_text),
        ],
    })
    application.add_error_handler(handlers.on_error)
    return application


def _chat_life(application: Application) -> ChatLife | None:
    svc: Services | None = application.bot_data.get(SERVICES_KEY)
    return svc.chats if svc is not None else None


def _transports(settings: BotSettings, transport: BaseRequest | None) -> tuple[BaseRequest, BaseRequest]:
    """(for every method, for getUpdates): HTTP with the configured timeouts, as PTB's builder makes
    them (a pool of 256 connections; one for long polling), or the given transport for both."""
    if transport is not None:
        return transport, transport
    return (HTTPXRequest(connect_timeout=settings.connect_timeout_seconds, read_timeout=settings.read_timeout_seconds,
                         write_timeout=settings.write_timeout_seconds, pool_timeout=settings.pool_timeout_seconds),
            HTTPXRequest(connection_pool_size=1, read_timeout=settings.poll_timeout_seconds + 10))


async def _start_services(application: Application) -> None:
    settings: BotSettings = application.bot_data[SETTINGS_KEY]
    await runtime.start(application, settings)
    try:
        await _start_bot_services(application, settings)
    except BaseException:
        await runtime.stop(application)
        raise


async def _start_bot_services(application: Application, settings: BotSettings) -> None:
    storage = await Storage.open(settings.database_path)
    try:
        classifier = await asyncio.to_thread(create_classifier, settings.classifier)
        # Encode the default labels, and the negative labels of "none of these" answers when chats have
        # them by default, now, so the first user does not wait for them (both are cached on disk: a
        # restart encodes nothing). With OPEN_SET off, the first chat that turns it on encodes the
        # negatives through the worker's chunked path, like any new labels.
        model_thread = asyncio.get_running_loop().run_in_executor
        await model_thread(classifier.executor, classifier.label_embeddings, settings.classifier.default_labels)
        if settings.open_set:
            await model_thread(classifier.executor, classifier.prepare_negatives)
    except BaseException:
        await storage.close()
        raise
    worker = create_worker(settings.classifier, classifier, WorkerMetrics(application.bot_data[METRICS_KEY]))
    worker.start()
    chats = ChatLife(storage, settings.forget_after_days, settings.forget_check_seconds, settings.clock,
                     settings.rounds_keep_days)
    await chats.start()  # forgets the chats that are due, then every FORGET_CHECK_SECONDS
    options = ChatOptions(storage, {ChatOption.OPEN_SET: settings.open_set, ChatOption.REVEAL_MAP: True})
    maps = Maps(worker, application.bot, settings.classifier.max_image_bytes,
                HeldAnswers(settings.where_answers, settings.where_hours * 3600))
    games = Games(storage, application.bot, settings.game_round_seconds, chats, maps, options)
    notes = Notes()  # a sender is told to slow down once a minute, whichever limit they hit
    svc = application.bot_data[SERVICES_KEY] = Services(
        settings=settings, classifier=classifier, worker=worker, storage=storage,
        rate_limit=UserRateLimit(settings.rate_limit_per_minute, notes=notes),
        update_limit=UpdateLimit(settings.updates_per_minute_per_user, settings.updates_per_minute_per_chat, notes),
        games=games, chats=chats,
        albums=Albums(settings.album_wait_seconds), options=options, maps=maps,
    )
    runtime.attach(application.bot_data[METRICS_KEY], svc)
    await register_commands(application)
    await games.recover()
    logger.info("toonclip is up as @%s", application.bot.username)


async def register_commands(application: Application) -> None:
    """The command menu: English for everyone, and each other language's for the Telegram
    language codes that read it (Russian for ru and be, Ukrainian for uk, ...)."""
    def menu(language: str) -> list[BotCommand]:
        return [BotCommand(command, text) for command, text in screens.command_menu(speaker(language))]

    await application.bot.set_my_commands(menu(DEFAULT_LANGUAGE))
    for language in LANGUAGES:
        if language != DEFAULT_LANGUAGE:
            for code in readers_of(language):
                await application.bot.set_my_commands(menu(language), language_code=code)


async def _stop_services(application: Application) -> None:
    svc: Services | None = application.bot_data.pop(SERVICES_KEY, None)
    if svc is None:
        await runtime.stop(application)
        return
    await svc.games.stop()
    await svc.chats.stop()
    await svc.worker.stop()
    await asyncio.to_thread(svc.classifier.close)
    await svc.storage.close()
    await runtime.stop(application)
    logger.info("toonclip stopped")


def run(settings: BotSettings) -> None:
    """Run until SIGINT or SIGTERM: long polling, or a webhook when WEBHOOK_URL is set."""
    application = build_application(settings)
    if settings.webhook_url:
        asyncio.run(_run_webhook(application, settings))
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES, timeout=int(settings.poll_timeout_seconds))


async def _run_webhook(application: Application, settings: BotSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with webhook_started(application, settings):
        await stop.wait()


@asynccontextmanager
async def started(application: Application, poll_timeout: int = 1) -> AsyncIterator[Application]:
    """Run the application inside an event loop that is already running, with the steps
    run_polling takes (post_init, polling, start; then the same stops in reverse).
    For tests and the benchmark; `python -m bot` uses run_polling, which also handles signals."""
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=poll_timeout, allowed_updates=Update.ALL_TYPES)
    await application.start()
    try:
        yield application
    finally:
        await application.updater.stop()
        await _stopped(application)


@asynccontextmanager
async def webhook_started(application: Application,
                          settings: BotSettings) -> AsyncIterator[WebhookServer]:
    """Run the application with updates from the webhook (bot/transport/webhook.py), with the steps
    python-telegram-bot's run_webhook takes: post_init, the server, setWebhook with the secret and
    every update type, start; then the server, stop and shutdown in reverse, whatever failed."""
    assert settings.webhook_url and settings.webhook_secret
    server = WebhookServer(application, settings.webhook_secret, settings.webhook_listen, settings.webhook_port,
                           settings.webhook_max_body_kb * 1024)
    try:
        await application.initialize()
        if application.post_init:
            await application.post_init(application)
        server.start()  # before setWebhook: Telegram may call at once
        await application.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                          allowed_updates=Update.ALL_TYPES)
        await application.start()
        yield server
    finally:
        await server.stop()
        await _stopped(application)


async def _stopped(application: Application) -> None:
    """The steps python-telegram-bot takes at the end of a run: stop (if it started), post_stop,
    shutdown, post_shutdown."""
    if application.running:
        await application.stop()
        if application.post_stop:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)
