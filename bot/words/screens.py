"""Whole screens the bot shows: /help, the command menu, /privacy and /stats, in the reader's language
(the one-line sentences are in bot/words/replies.py)."""

from __future__ import annotations

from html import escape

from bot.words.i18n import N_, Speaker
from bot.words.snapshot import Snapshot
from classifier import MAX_LABEL_CHARS, MAX_LABELS, MIN_LABELS


def privacy(t: Speaker, forget_after_days: int, rounds_keep_days: int = 30) -> str:
    """/privacy: what is kept, for how long, who sees it and how to delete it, on one screen."""
    if forget_after_days:
        kept = t.plural("When I am removed from a group or blocked, what I keep about that chat is deleted "
                        "{n} day later, unless I am back by then.",
                        "When I am removed from a group or blocked, what I keep about that chat is deleted "
                        "{n} days later, unless I am back by then.", forget_after_days)
    else:
        kept = t("When I am removed from a group or blocked, what I keep about that chat is deleted at once.")
    return "\n".join((
        t("<b>Privacy</b>"),
        t("<b>What I keep</b>, per chat: its labels and language, and for the guessing game its rounds, votes and "
          "scores, with the players' Telegram ids and names. Never a picture: pictures are looked at in memory "
          "and dropped once answered; to show where I looked (“Where?”, /where), I download it again from "
          "Telegram, so for a day I keep in memory only Telegram's id of the file, the labels and who asked."),
        t("<b>Pictures seen before</b>: for each, only its embedding (numbers the model computed from it, not the "
          "picture) under Telegram's id of the file, linked to no chat or user, so the same picture is not looked "
          "at twice; the least recently used are dropped first. /forget leaves them: they belong to no chat."),
        t("<b>Who sees it</b>: the chat's members see its labels and leaderboard; the bot's owner can read "
          "the database. Nobody else."),
        " ".join((t("<b>For how long</b>: until it is deleted."), kept, t.plural(
            "Finished game rounds and their votes are deleted {n} day after they end; scores stay.",
            "Finished game rounds and their votes are deleted {n} days after they end; scores stay.",
            rounds_keep_days))),
        t("<b>How to delete it</b>: /forget deletes everything about this chat (in groups, admins only); "
          "/forget me, in a private chat with me, deletes your name, votes and points in every chat. Nothing "
          "deleted stays in my files: labels are cached only as numbers under a hash of their text, and "
          "deleted rows are overwritten."),
    ))


def help_text(t: Speaker) -> str:
    return "\n".join((
        t("<b>toonclip</b> tells which cartoon animal is in a picture."),
        "",
        t("• Send a photo, a sticker or an image file: I answer with the best matching animal."),
        t("• Add a caption like <code>fox, wolf, dog</code> to choose from those labels for that picture."),
        t("• /labels — show this chat's labels; <code>/labels cat, dog, fox</code> sets them "
          "({minimum} to {maximum}, each up to {length} characters); <code>/labels reset</code> "
          "goes back to the default. In groups only admins may change them.",
          minimum=MIN_LABELS, maximum=MAX_LABELS, length=MAX_LABEL_CHARS),
        t("• /classify — in groups, reply to a picture with /classify (or use it as a photo's caption)."),
        t("• /game — reply to a picture (or caption one) to start a round: guess what the AI sees!"),
        t("• /reveal — end your round early. /top — the chat's leaderboard."),
        t("• /language en, ru, uk, es or pt — the chat's language."),
        t("• Where? under an answer, or /where in reply to it — the picture with where I saw the answer."),
        t("• /settings — this chat's switches; tap one to turn it on or off."),
        t("• /privacy — what I keep and how to delete it: /forget (this chat), /forget me (you, everywhere)."),
        t("• /help — this message."),
    ))


COMMAND_DESCRIPTIONS = (
    ("classify", N_("what animal is this picture? (reply to it)")),
    ("labels", N_("show or set this chat's labels")),
    ("game", N_("guess what the AI sees (reply to a picture)")),
    ("top", N_("this chat's leaderboard")),
    ("language", N_("the chat's language: en, ru, uk, es or pt")),
    ("where", N_("where the AI looked (reply to an answer)")),
    ("settings", N_("this chat's switches")),
    ("privacy", N_("what the bot keeps, and how to delete it")),
    ("help", N_("how to use the bot")),
)


def command_menu(t: Speaker) -> list[tuple[str, str]]:
    """(command, description) for Telegram's command menu in this language."""
    return [(command, t(description)) for command, description in COMMAND_DESCRIPTIONS]


def stats(t: Speaker, s: Snapshot) -> str:
    """/stats, for the bot's operators: numbers first, one line each."""
    if s.p50_seconds is None or s.p95_seconds is None:
        latency = t("Latency: no pictures answered yet.")
    else:
        latency = t("Latency of the latest answers ({n}): p50 {p50} s, p95 {p95} s",
                    n=s.latency_window, p50=round(s.p50_seconds, 2), p95=round(s.p95_seconds, 2))
    hits = "—" if s.label_hit_ratio is None else t.percent(s.label_hit_ratio)
    return "\n".join((
        t("<b>toonclip</b> {version}, up {hours} h", version=escape(s.version),
          hours=round(s.uptime_seconds / 3600, 1)),
        t("Pictures answered: {hour} in the last hour, {day} in the last day", hour=s.answered_hour,
          day=s.answered_day),
        latency,
        t("Queue: {queue} of {size}; pictures in flight: {in_flight}", queue=s.queue, size=s.queue_size,
          in_flight=s.in_flight),
        t("Label cache hits: {ratio}", ratio=hits),
        t("Model: {model} ({weights}) on {device}, {precision}", model=escape(s.model), weights=escape(s.weights),
          device=escape(s.device), precision=escape(s.precision)),
        t("Database: {size} MB", size=round(s.database_bytes / 2**20, 2)),
    ))
