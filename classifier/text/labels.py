"""Label lists: parsing, limits and the default set."""

from __future__ import annotations

import re
import unicodedata

from classifier.messages import Explained

DEFAULT_LABELS: tuple[str, ...] = (
    "cat", "dog", "fox", "bear", "rabbit", "mouse", "duck", "pig", "lion", "elephant",
)

MIN_LABELS = 2
MAX_LABELS = 50
MAX_LABEL_CHARS = 60
# A caption or command longer than this is refused before it is split, so that a
# 10,000-character message costs nothing to reject.
MAX_INPUT_CHARS = MAX_LABELS * (MAX_LABEL_CHARS + 2)

_SEPARATORS = re.compile(r"[,\n]")
# Invisible formatting characters (right-to-left marks, zero-width joiners) are
# kept inside a label, where they may belong, but trimmed from its ends.
_EDGE_FORMAT = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"


class LabelError(Explained):
    """A label list that breaks a rule; the message is one sentence for the user."""


def _shorten(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_labels(text: str) -> tuple[str, ...]:
    """Split a comma- or newline-separated list into clean, unique labels.

    Labels are trimmed, empty ones dropped and case-insensitive duplicates dropped
    (the first spelling wins). Raises LabelError when the result breaks a limit.
    """
    if len(text) > MAX_INPUT_CHARS:
        raise LabelError("That list is {length} characters long; the limit is {limit}.",
                         length=len(text), limit=MAX_INPUT_CHARS)
    labels: list[str] = []
    seen: set[str] = set()
    for raw in _SEPARATORS.split(text):
        label = " ".join(raw.split()).strip(_EDGE_FORMAT).strip()
        if not label:
            continue
        if any(unicodedata.category(ch) == "Cc" for ch in label):
            raise LabelError("Label '{label}' contains a control character.",
                             label=_shorten(label.encode("unicode_escape").decode()))
        if len(label) > MAX_LABEL_CHARS:
            raise LabelError("Label '{label}' is {length} characters; the limit is {limit}.",
                             label=_shorten(label), length=len(label), limit=MAX_LABEL_CHARS)
        key = label.casefold()
        if key in seen:
            continue
        seen.add(key)
        labels.append(label)
    if len(labels) < MIN_LABELS:
        raise LabelError("Give at least {minimum} different labels, separated by commas.", minimum=MIN_LABELS)
    if len(labels) > MAX_LABELS:
        raise LabelError("That is {count} labels; the limit is {limit}.", count=len(labels), limit=MAX_LABELS)
    return tuple(labels)
