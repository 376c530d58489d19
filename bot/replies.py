"""Every sentence the bot says, in one place. Labels are always HTML-escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from classifier import MAX_LABEL_CHARS, MAX_LABELS, MIN_LABELS, Prediction

BUSY = "I'm busy right now — try again in a few seconds."
STOPPING = "I'm restarting — send it again in a minute."
DOWNLOAD_FAILED = "Sorry, I couldn't download that picture from Telegram; please send it again."
INTERNAL_ERROR = "Sorry, something went wrong on my side; please try again."
ADMINS_ONLY = "Only the group's admins can change its labels."
CLASSIFY_USAGE = ("Reply to a photo, sticker or image file with /classify, or send a photo with /classify "
                  "as its caption. Add labels to use them for this picture only: /classify cat, dog, fox")
PRIVATE_HINT = "Send me a photo, a sticker or an image file, and I'll tell you which animal it is. /help"
RATE_LIMITED = "You're sending pictures faster than I can look at them; please wait a minute."


def too_large(size: int, limit: int) -> str:
    return f"That file is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB."


def percent(probability: float) -> str:
    value = probability * 100
    return "<1%" if value < 1 else f"{value:.0f}%"


def prediction(result: Prediction, shown: int = 3) -> str:
    """Top label bold with its probability, then the next ones: 'fox — 87%'."""
    lines = []
    for i, (label, probability) in enumerate(result.top(shown)):
        name = f"<b>{escape(label)}</b>" if i == 0 else escape(label)
        lines.append(f"{name} — {percent(probability)}")
    return "\n".join(lines)


def label_list(labels: Sequence[str]) -> str:
    return ", ".join(escape(label) for label in labels)


def labels_shown(labels: Sequence[str], is_default: bool) -> str:
    origin = "the default set" if is_default else "this chat's own set"
    return (f"Labels ({origin}, {len(labels)}): {label_list(labels)}\n"
            "Change them with /labels cat, dog, fox — or go back with /labels reset.")


def labels_set(labels: Sequence[str]) -> str:
    return f"Labels set ({len(labels)}): {label_list(labels)}"


def labels_reset(labels: Sequence[str]) -> str:
    return f"Back to the default labels: {label_list(labels)}"


def escaped(sentence: str) -> str:
    """A classifier message (which may quote a label) made safe for HTML."""
    return escape(sentence, quote=False)


def labels_refused(reason: str) -> str:
    return f"{escaped(reason)} The labels stay as they were."


HELP = (
    "<b>toonclip</b> tells which cartoon animal is in a picture.\n\n"
    "• Send a photo, a sticker or an image file: I answer with the best matching animal.\n"
    "• Add a caption like <code>fox, wolf, dog</code> to choose from those labels for that picture.\n"
    "• /labels — show this chat's labels; <code>/labels cat, dog, fox</code> sets them "
    f"({MIN_LABELS} to {MAX_LABELS}, each up to {MAX_LABEL_CHARS} characters); <code>/labels reset</code> "
    "goes back to the default. In groups only admins may change them.\n"
    "• /classify — in groups, reply to a picture with /classify (or use it as a photo's caption).\n"
    "• /game — reply to a picture (or caption one) to start a round: guess what the AI sees!\n"
    "• /reveal — end your round early. /top — the chat's leaderboard.\n"
    "• /help — this message."
)
