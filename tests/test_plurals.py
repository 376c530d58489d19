"""Plurals and numbers read right for every count: each plural message renders in every language for 0 to 101,
and the sentences a native review corrected say, through the bot's own replies, what is written out here."""

from __future__ import annotations

import string
from typing import Any

import pytest
from babel.messages.pofile import read_po

from bot.words import replies, screens
from bot.words.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, speaker
from bot.words.snapshot import Snapshot
from classifier import DEFAULT_LABELS
from classifier.pictures.images import too_many_pixels
from classifier.pictures.refusals import ImageLimits
from classifier.text.labels import LabelError, parse_labels

COUNTS = (0, 1, 2, 5, 11, 21, 22, 101)
# A value for each placeholder a plural message has besides n; one not here gets a stand-in.
SAMPLES = {"names": "Olga, Ivan"}
# Russian and Ukrainian use form 0 for 1, 21, 31, 101: it must not say "one person" or "one point" alone.
# Written out here, not read from the catalogs; {names} is the list of winners, as reveal() joins them.
WINNERS = {
    "ru": {1: "+1 очко: {names}.", 2: "Угадали: {names} — по одному очку.", 5: "Угадали: {names} — по одному очку.",
           21: "+1 очко: {names}.", 101: "+1 очко: {names}."},
    "uk": {1: "+1 бал: {names}.", 2: "Вгадали: {names} — по одному балу.", 5: "Вгадали: {names} — по одному балу.",
           21: "+1 бал: {names}.", 101: "+1 бал: {names}."},
}
DAYS = {
    "ru": {1: "через 1 день,", 2: "через 2 дня,", 5: "через 5 дней,", 11: "через 11 дней,", 21: "через 21 день,",
           22: "через 22 дня,", 101: "через 101 день,"},
    "uk": {1: "через 1 день,", 2: "через 2 дні,", 5: "через 5 днів,", 11: "через 11 днів,", 21: "через 21 день,",
           22: "через 22 дні,", 101: "через 101 день,"},
}


def plural_messages() -> list[tuple[str, str]]:
    """(singular, plural) of every message with a plural, from the template the catalogs are merged from."""
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("rb") as pot:
        return [(e.id[0], e.id[1]) for e in read_po(pot) if isinstance(e.id, tuple)]


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def refusal(text: str) -> LabelError:
    with pytest.raises(LabelError) as refused:
        parse_labels(text)
    return refused.value


def snapshot(**changes: Any) -> Snapshot:
    values: dict[str, Any] = {
        "version": "1.0", "uptime_seconds": 3600.0, "answered_hour": 21, "answered_day": 101, "latency_window": 61,
        "p50_seconds": None, "p95_seconds": None, "queue": 1, "queue_size": 64, "in_flight": 2,
        "label_hit_ratio": None, "model": "ViT-B-32", "weights": "openai", "device": "cpu", "precision": "fp32",
        "database_bytes": 2**20}
    return Snapshot(**{**values, **changes})


def test_every_catalog_has_the_templates_plural_messages() -> None:
    messages = plural_messages()
    assert len(messages) >= 3
    for language in LANGUAGES[1:]:
        with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
            assert {tuple(e.id) for e in read_po(po) if isinstance(e.id, tuple)} == set(messages), language


@pytest.mark.parametrize("n", COUNTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_plural_message_renders_with_its_values(language: str, n: int) -> None:
    t = speaker(language)
    for singular, plural in plural_messages():
        names = (fields(singular) | fields(plural)) - {"n"}
        values = {name: SAMPLES.get(name, f"<{name}>") for name in names}
        said = t.plural(singular, plural, n, **values)
        assert said and "{" not in said and "}" not in said, (language, n, said)
        for value in values.values():
            assert value in said, (language, n, said)
        if "n" in fields(singular) | fields(plural):
            assert str(n) in said, (language, n, said)


@pytest.mark.parametrize("language", list(WINNERS))
def test_the_winners_read_right_for_any_count(language: str) -> None:
    t = speaker(language)
    for n, expected in WINNERS[language].items():
        winners = [f"P{i}" for i in range(1, n + 1)]
        said = replies.reveal(t, "fox", 0.87, winners, votes=n).split("\n")[1]
        assert said == expected.replace("{names}", ", ".join(winners)), (language, n)


@pytest.mark.parametrize("language", list(DAYS))
def test_the_days_until_a_chat_is_forgotten_agree_with_the_number(language: str) -> None:
    for n, expected in DAYS[language].items():
        assert expected in screens.privacy(speaker(language), n), (language, n)


def test_russian_numbers_need_no_agreement_and_decimals_read_right() -> None:
    ru = speaker("ru")
    label = "а" * 61
    assert replies.labels_refused(ru, refusal(f"кот, {label}")) == (
        "Символов в метке «ааааааааааааааааааа…»: 61, а можно не больше 60. Метки остались прежними.")
    assert replies.labels_refused(ru, refusal("а" * 3161)) == (
        "Символов в списке: 3161, а можно не больше 3100. Метки остались прежними.")
    assert replies.explained(ru, too_many_pixels(8000, 7650, ImageLimits())) == (
        "Картинка 8000×7650 (61,2 Мп), а можно не больше 50 Мп.")
    assert replies.explained(speaker("uk"), too_many_pixels(8000, 7650, ImageLimits())) == (
        "Картинка 8000×7650 (61,2 Мп), а можна не більше 50 Мп.")


def test_russian_stats_and_labels_hint() -> None:
    ru = speaker("ru")
    lines = screens.stats(ru, snapshot()).split("\n")
    assert "Ответов на картинки: 21 за последний час, 101 за последние сутки" in lines
    assert "Задержка: ещё не было ни одного ответа на картинку." in lines
    assert replies.labels_shown(ru, DEFAULT_LABELS, is_default=True) == (
        "Метки (набор по умолчанию, 10): кот, собака, лиса, медведь, кролик, мышь, утка, свинья, лев, слон\n"
        "Задать свои: /labels кот, собака, лиса — вернуть стандартные: /labels reset.")


def test_the_other_corrected_sentences() -> None:
    ru, uk, es, pt = (speaker(language) for language in ("ru", "uk", "es", "pt"))
    assert replies.language_set(ru) == "Теперь в этом чате я говорю по-русски."
    assert replies.language_set(uk) == "Тепер у цьому чаті я розмовляю українською."
    assert replies.no_round(ru) == "Сейчас нет активного раунда. Начните его командой /game."
    assert replies.no_round(uk) == "Зараз немає активного раунду. Почніть його командою /game."
    assert uk("Reading the video took too long; send a shorter or smaller one.") == (
        "Відео обробляється надто довго; надішліть коротше або менше.")
    assert "Черга: 1 з 64; картинок у роботі: 2" in screens.stats(uk, snapshot()).split("\n")
    assert replies.round_running(es, 1) == "Ya hay una ronda en curso (tiempo restante: 1 s)."
    assert replies.round_running(pt, 1) == "Já há uma rodada em andamento (tempo restante: 1 s)."
    assert replies.leaderboard(pt, [("Olga", 1)]) == "<b>Ranking</b>\n1. Olga — 1"
    assert "Agrega etiquetas" in replies.classify_usage(es)
    forgotten = {"labels": 1, "settings": 1, "notes": 0, "rounds": 2, "votes": 5, "scores": 3}
    assert "настроек: 1," in replies.chat_forgotten(ru, **forgotten)
    assert "налаштувань: 1," in replies.chat_forgotten(uk, **forgotten)
    assert "configurações: 1," in replies.chat_forgotten(pt, **forgotten)


def test_rounds_kept_days_agree_with_their_number() -> None:
    ru, uk = speaker("ru"), speaker("uk")
    assert "удаляются через 21 день после" in screens.privacy(ru, 30, 21)
    assert "удаляются через 22 дня после" in screens.privacy(ru, 30, 22)
    assert "удаляются через 30 дней после" in screens.privacy(ru, 30, 30)
    assert "видаляються через 101 день після" in screens.privacy(uk, 30, 101)
    assert "видаляються через 5 днів після" in screens.privacy(uk, 30, 5)
    assert "deleted 1 day after they end" in screens.privacy(speaker("en"), 30, 1)
