"""Each Telegram language code sees one language, from /start to /top and through a group game,
with the default animals' names in that language; a Ukrainian user sees no Russian."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.settings import BotSettings
from bot.words.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, speaker
from classifier.pictures.images import FORMAT_NAMES
from tests.conftest import idle, running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user

# Telegram's language_code -> the language its user must read.
CODES = {"en": "en", "de": "en", "kk": "en", "ru": "ru", "be": "ru", "uk": "uk", "es": "es", "pt": "pt", "pt-br": "pt"}
# Written out here, not read from the catalogs.
FOX = {"en": "fox", "ru": "лиса", "uk": "лисиця", "es": "zorro", "pt": "raposa"}
DEFAULT_START = {"en": "cat, dog, fox, bear", "ru": "кот, собака, лиса, медведь", "uk": "кіт, пес, лисиця, ведмідь",
                 "es": "gato, perro, zorro, oso", "pt": "gato, cachorro, raposa, urso"}
QUESTION = {"en": "Which animal does the AI see?\nVotes: 0", "ru": "Какое животное видит ИИ?\n0 голосов",
            "uk": "Яку тварину бачить ШІ?\n0 голосів", "es": "¿Qué animal ve la IA?\n0 votos",
            "pt": "Qual animal a IA vê?\n0 votos"}
PICKED = {"en": "You picked fox", "ru": "Ваш выбор: лиса", "uk": "Ваш вибір: лисиця", "es": "Elegiste zorro",
          "pt": "Você escolheu raposa"}
REVEALED = {"en": "The AI saw: <b>fox</b>", "ru": "ИИ увидел: <b>лиса</b>", "uk": "ШІ побачив: <b>лисиця</b>",
            "es": "La IA vio: <b>zorro</b>", "pt": "A IA viu: <b>raposa</b>"}
PERCENT = {"en": "%", "ru": "\xa0%", "uk": "%", "es": "\xa0%", "pt": "%"}  # as CLDR writes 87%
OLGA, IVAN = "Olga", "Ivan"
# Not words of any language: commands, markup, placeholders, and the list of picture formats.
NOT_WORDS = re.compile(r"<[^>]+>|/\w+(@\w+)?|\{\w*\}|" + re.escape(FORMAT_NAMES))
WORD = re.compile(r"[^\W\d_]+")


def words(text: str) -> set[str]:
    return {word.lower() for word in WORD.findall(NOT_WORDS.sub(" ", text))}


@cache
def vocabulary(language: str) -> frozenset[str]:
    """Every word the bot can say in a language: its catalog's translations (English: the message ids)."""
    path = LOCALE_DIR / ("ru" if language == "en" else language) / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        entries = [e for e in read_po(po) if e.id]
    texts = [s for e in entries for s in ((e.id if isinstance(e.id, tuple) else (e.id,)) if language == "en"
                                           else (e.string if isinstance(e.string, tuple) else (e.string,)))]
    return frozenset(w for text in texts for w in words(text))


def foreign_words(text: str, language: str) -> set[str]:
    """The words of text that the language's catalog never uses (the players' names aside)."""
    return words(text) - vocabulary(language) - {OLGA.lower(), IVAN.lower()}


def test_the_vocabularies_tell_the_languages_apart() -> None:
    """The check below can fail: every language has many words no other language uses."""
    for language in LANGUAGES:
        others = set().union(*(vocabulary(other) for other in LANGUAGES if other != language))
        assert len(vocabulary(language) - others) > 100, language
    assert foreign_words("Метки заданы", "uk") == {"метки", "заданы"}
    assert foreign_words("Etiquetas guardadas", "pt") == {"etiquetas", "guardadas"}
    assert foreign_words("Rótulos definidos", "es") == {"rótulos", "definidos"}
    assert foreign_words("Labels set", "es") == {"labels", "set"}


@pytest.mark.parametrize("code", list(CODES))
async def test_a_user_sees_only_their_language_from_start_to_top(code: str, bot_settings: BotSettings,
                                                                  fake: FakeTelegram, samples_dir: Path) -> None:
    language = CODES[code]
    me, friend, group = 2001, 2002, -100_2001
    pdf = {"file_id": fake.add_file(b"%PDF-1.4"), "file_unique_id": "d", "file_name": "a.pdf",
           "mime_type": "application/pdf", "file_size": 8}
    async with running_bot(replace(bot_settings, game_round_seconds=600)) as application:
        alone = {"chat": private_chat(me), "from": user(me, IVAN, language_code=code)}
        for text in ("/start", "/labels", "/labels 7, " + "7" * 61, "/language xx", "/top"):
            await fake.push(**alone, text=text)
        await fake.push(**alone, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.push(**alone, document=pdf)
        await idle(fake, application)
        private = [m["text"] for m in fake.sent(me)]
        assert len(private) == 7, private

        # A group game: a round, a vote, two refusals, the reveal and the leaderboard.
        starter = {"chat": group_chat(group), "from": user(me, IVAN, language_code=code)}
        picture = await fake.push(**starter, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.push(**starter, text="/game", reply_to_message=picture)
        await fake.wait_for(lambda: len(fake.sent(group)) == 1)
        question = fake.sent(group)[0]
        question_id = next(call.result["message_id"] for call in fake.methods("sendMessage")
                           if int(call.params["chat_id"]) == group)
        buttons = {b["text"]: b["callback_data"] for row in question["reply_markup"]["inline_keyboard"] for b in row}
        await fake.push_update({"callback_query": {
            "id": "press", "from": user(friend, OLGA, language_code=code), "chat_instance": "c",
            "data": buttons[FOX[language]],
            "message": {"message_id": question_id, "date": 0, "chat": group_chat(group), "text": "x"}}})
        await fake.wait_for(lambda: bool(fake.methods("answerCallbackQuery")))
        helper = {"chat": group_chat(group), "from": user(friend, OLGA, language_code=code)}
        await fake.push(**helper, text="/language en")  # not an admin
        await fake.push(**helper, text="/reveal")  # not the starter
        await fake.push(**starter, text="/reveal")
        await fake.push(**starter, text="/top")
        await idle(fake, application)
    in_group = [m["text"] for m in fake.sent(group)]
    assert len(in_group) == 4, in_group
    edits = [str(c.params["text"]) for c in fake.methods("editMessageText")]
    answers = [str(c.params["text"]) for c in fake.methods("answerCallbackQuery")]
    menus = {c.params.get("language_code"): json.loads(c.params["commands"]) for c in fake.methods("setMyCommands")}
    menu = menus.get(code.split("-")[0], menus[None])
    seen = [*private, *in_group, *edits, *answers, *(item["description"] for item in menu)]

    for text in seen:
        assert not foreign_words(text, language), (code, text, foreign_words(text, language))
    if language == "uk":  # and nothing Russian: no letter only Russian has, no word only Russian uses
        assert not any(set("ыэъёЫЭЪЁ") & set(text) for text in seen)
        assert not set().union(*(words(text) for text in seen)) & (vocabulary("ru") - vocabulary("uk"))
    answer = next(text for text in private if re.match(r"<b>[^<]+</b> — ", text))
    assert re.match(rf"<b>{FOX[language]}</b> — (\d+|<1){re.escape(PERCENT[language])}\n", answer), answer
    assert any(DEFAULT_START[language] in text for text in private), private
    assert in_group[0] == QUESTION[language] and FOX[language] in buttons
    assert answers == [PICKED[language]]
    reveal = edits[-1]
    assert reveal.startswith(REVEALED[language] + " (") and OLGA in reveal, reveal
    assert in_group[-1].endswith(f"1. {OLGA} — 1"), in_group[-1]
    assert set(menus) == {None, "be", "ru", "uk", "es", "pt"}


def test_every_menu_names_every_language() -> None:
    """/language's description in each menu lists the codes it accepts."""
    for language in LANGUAGES:
        for message in ("the chat's language: en, ru, uk, es or pt",
                        "• /language en, ru, uk, es or pt — the chat's language.",
                        "Choose the chat's language: /language en, ru, uk, es or pt"):
            said = speaker(language)(message)
            assert set(re.findall(r"\b[a-z]{2}\b", said)) >= set(LANGUAGES), (language, message)
