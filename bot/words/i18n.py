"""Languages: which one a user reads, and the gettext catalogs that speak it.

English is the source language (the message ids). Every other language is a catalog in
`bot/words/locales/<code>/LC_MESSAGES`, compiled from its `.po` file (`scripts/translations`): a
language exists when its compiled catalog does. A user reads their Telegram language when we
have it, Russian also for Belarusian (`ALSO_READ`), English otherwise. Numbers and percentages
are written by Babel in the language's own way (`87%`, `87 %`, decimal comma).
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.numbers import format_decimal, format_percent
from telegram import User

from classifier.messages import Explained, Value

DOMAIN = "toonclip"
LOCALE_DIR = Path(__file__).resolve().parent / "locales"
DEFAULT_LANGUAGE = "en"
# English, then every language with a compiled catalog, by code: ("en", "es", "pt", "ru", "uk").
LANGUAGES = (DEFAULT_LANGUAGE, *sorted(mo.parent.parent.name for mo in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")))
# Telegram language codes that read another of our languages. Belarusian readers get Russian (most
# Belarusians read it every day, and it is an official language there). Kazakh (kk) is not here:
# like every language we do not speak, it gets English, and /language ru is one command away.
ALSO_READ = {"be": "ru"}
ANIMAL_CONTEXT = "animal"  # msgctxt of the default labels' display names


def N_(message: str) -> str:
    """Marks a message for extraction where it is translated later (`t(message)`)."""
    return message


def C_(context: str, message: str) -> str:
    """Marks a message with its context for extraction (`scripts/translations`)."""
    return message


# The default labels' display names, for extraction; the model always reads the English word.
ANIMAL_NAMES = (C_("animal", "cat"), C_("animal", "dog"), C_("animal", "fox"), C_("animal", "bear"),
                C_("animal", "rabbit"), C_("animal", "mouse"), C_("animal", "duck"), C_("animal", "pig"),
                C_("animal", "lion"), C_("animal", "elephant"))


def language_of(code: str | None) -> str:
    """The interface language for a Telegram language_code ('uk', 'pt-br', 'be', 'en', None)."""
    base = (code or "").replace("_", "-").split("-")[0].lower()
    base = ALSO_READ.get(base, base)
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def readers_of(language: str) -> tuple[str, ...]:
    """The two-letter Telegram language codes whose users read this language ('ru' -> ('be', 'ru'))."""
    return tuple(sorted({language, *(code for code, read in ALSO_READ.items() if read == language)}))


@dataclass(frozen=True)
class Speaker:
    """Says sentences in one language: `t("Labels set ({count})", count=3)`."""

    language: str
    catalog: gettext.NullTranslations

    def __call__(self, message: str, **values: Value) -> str:
        return self.catalog.gettext(message).format(**self._written(values))

    def plural(self, singular: str, plural: str, n: int, **values: Value) -> str:
        """A sentence whose form follows n (1 голос, 2 голоси, 5 голосів; 1 voto, 2 votos); n is a value too."""
        return self.catalog.ngettext(singular, plural, n).format(**self._written({"n": n, **values}))

    def explain(self, error: Explained) -> str:
        """A classifier's sentence (a template and its values) in this language."""
        return self(error.template, **error.values)

    def number(self, value: Value) -> str:
        if isinstance(value, bool) or not isinstance(value, float):
            return str(value)
        return format_decimal(value, format="0.0##", locale=self.language)

    def percent(self, probability: float) -> str:
        """87%, or 87 % in Russian and Spanish; under one percent: <1%."""
        if probability < 0.01:
            return "<" + format_percent(0.01, locale=self.language)
        return format_percent(probability, locale=self.language)

    def animal(self, label: str) -> str:
        """A default label's display name in this language (the model reads the English word)."""
        return self.catalog.pgettext(ANIMAL_CONTEXT, label)

    def _written(self, values: dict[str, Value]) -> dict[str, str]:
        return {name: self.number(value) for name, value in values.items()}


@cache
def speaker(language: str) -> Speaker:
    """The Speaker of a language; an unknown one speaks English."""
    language = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return Speaker(language, gettext.translation(DOMAIN, LOCALE_DIR, languages=[language], fallback=True))


def speaker_of(user: User | None) -> Speaker:
    """The Speaker of a Telegram user's own language (English for none, or for a language not spoken)."""
    return speaker(language_of(user.language_code if user else None))
