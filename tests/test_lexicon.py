"""The lexicon: a label in Russian, Ukrainian, Spanish or Portuguese that names a common animal is read by an
English-only model through its English name, so it answers as it does in English, in the chat's own words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from telegram.ext import Application

from bot.words.i18n import ANIMAL_CONTEXT, LANGUAGES, speaker
from classifier import DEFAULT_LABELS, ZeroShotClassifier
from classifier.text.lexicon import (
    LEXICON_FILE,
    Lexicon,
    LexiconError,
    english_name,
    lexicon,
    normal,
    parse,
)
from tests.conftest import idle, sample
from tests.fake_telegram import FakeTelegram, private_chat, user

# Three of the tiny model's animals, written out here in every language, not read from the lexicon.
WORDS = {"en": ("fox", "bear", "duck"), "ru": ("лиса", "медведь", "утка"), "uk": ("лисиця", "ведмідь", "качка"),
         "es": ("zorro", "oso", "pato"), "pt": ("raposa", "urso", "pato")}
PEOPLE = {"en": 1301, "ru": 1302, "uk": 1303, "es": 1304, "pt": 1305}
NOTE_START = {"ru": "Обратите внимание", "es": "Nota"}
ANSWER_LINE = re.compile(r"^(?:<b>)?(?P<name>[^<]+?)(?:</b>)? — (?P<percent><1|\d+)\s?%$")


def test_lookups_normalise_case_accents_and_yo() -> None:
    assert english_name("Лисиця") == english_name("ЛИСА") == english_name(" zorro ") == english_name("Raposa") == "fox"
    assert english_name("ratón") == english_name("RATON") == english_name("rato") == english_name("миша") == "mouse"
    assert english_name("ёж") == english_name("еж") == "hedgehog"
    assert english_name("leão") == english_name("leao") == english_name("León") == "lion"
    assert english_name("кот") == english_name("кошка") == english_name("кіт") == english_name("gato") == "cat"
    assert english_name("пес") == english_name("собака") == english_name("perro") == english_name("cão") == "dog"
    assert normal("  Ёжик\u00a0 Ñandú ") == "ежик nandu" and normal("хомʼяк") == normal("хом’як") == "хом'як"


def test_english_words_and_unknown_labels_map_to_nothing() -> None:
    for label in ("fox", "Fox", "panda", "koala", "red fox", "ñandú", "утконос", "zorros", "", "狐"):
        assert english_name(label) is None, label


def test_every_row_has_every_language_and_no_name_is_ambiguous() -> None:
    rows = parse(LEXICON_FILE.read_text(encoding="utf-8"))
    assert len(rows) >= 100
    for english, names in rows:
        assert english and english == english.lower(), english
        for language in ("ru", "uk", "es", "pt"):
            assert names[language], (english, language)
            assert all(name and name.strip() == name for name in names[language]), (english, language)
    assert len(lexicon()) == len(rows)  # Lexicon.from_rows raises on a name two rows claim
    with pytest.raises(LexiconError, match="'gato' names both cat and dog"):
        Lexicon.from_rows((("cat", {"es": ("gato",)}), ("dog", {"es": ("gato",)})))


def test_the_catalogs_default_animals_are_all_in_the_lexicon() -> None:
    for language in LANGUAGES[1:]:
        for label in DEFAULT_LABELS:
            name = speaker(language).catalog.pgettext(ANIMAL_CONTEXT, label)
            assert english_name(name) == label, (language, name)


def test_the_licence_notice_travels_with_the_data() -> None:
    comments = [line for line in LEXICON_FILE.read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    header = " ".join(line.removeprefix("#").strip() for line in comments)
    assert "Unicode CLDR" in header and "Unicode License v3" in header
    notice = LEXICON_FILE.with_name("lexicon-LICENSE.txt").read_text(encoding="utf-8")
    assert "UNICODE LICENSE V3" in notice and "Permission is hereby granted" in notice


def test_an_english_model_reads_lexicon_labels_through_english(classifier: ZeroShotClassifier,
                                                               samples_dir: Path) -> None:
    images = [Image.open(samples_dir / label / "00.png").convert("RGB") for label in WORDS["en"]]
    english = classifier.executor.submit(classifier.classify_images, images, list(WORDS["en"])).result()
    for language in ("ru", "uk", "es", "pt"):
        labels = list(WORDS[language])
        assert [classifier.reading(label) for label in labels] == list(WORDS["en"])
        predictions = classifier.executor.submit(classifier.classify_images, images, labels).result()
        for theirs, ours in zip(predictions, english, strict=True):
            assert [(labels.index(name), p) for name, p in theirs.ranking] == \
                   [(WORDS["en"].index(name), p) for name, p in ours.ranking], language
    # One embedding per English name: "zorro" and "fox" share the cache's entry "fox".
    assert classifier.missing(["zorro", "fox", "лиса", "утконос"]) == ["утконос"]


def test_a_multilingual_model_reads_the_word_itself(classifier: ZeroShotClassifier) -> None:
    classifier.clip.multilingual = True  # as a multilingual spec would set it; the lexicon is not used
    assert classifier.reading("zorro") == "zorro" and classifier.missing(["zorro", "fox"]) == ["zorro", "fox"]


def ranking(text: str) -> list[tuple[str, str]]:
    """An answer's lines as (name, percent)."""
    found = [ANSWER_LINE.match(line) for line in text.split("\n")]
    assert all(found), text
    return [(m["name"], m["percent"]) for m in found if m]


async def test_each_language_gets_the_english_answers_in_its_own_words(
        bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    def person(language: str) -> dict[str, Any]:
        who = PEOPLE[language]
        return {"chat": private_chat(who), "from": user(who, "Ann", language_code=language)}

    for language, words in WORDS.items():
        await fake.push(**person(language), text="/labels " + ", ".join(words))
    await idle(fake, bot)
    for language in WORDS:
        assert len(fake.sent(PEOPLE[language])) == 1, fake.sent(PEOPLE[language])  # no note: read through English
        for animal in WORDS["en"]:
            await fake.push(**person(language), photo=fake.photo([(64, 64, sample(samples_dir, animal))]))
            await idle(fake, bot)  # one at a time, so the answers come in order
    answers = {language: [ranking(m["text"]) for m in fake.sent(PEOPLE[language])[1:]] for language in WORDS}
    english = [[(WORDS["en"].index(name), percent) for name, percent in answer] for answer in answers["en"]]
    assert [answer[0][0] for answer in english] == [0, 1, 2]  # the tiny model tells them apart in English
    for language, words in WORDS.items():
        assert [[(words.index(name), percent) for name, percent in answer] for answer in answers[language]] == english


async def test_a_game_shows_the_chats_words(bot: Application, fake: FakeTelegram, samples_dir: Path) -> None:  # type: ignore[type-arg]
    who = PEOPLE["es"]
    me = {"chat": private_chat(who), "from": user(who, "Ana", language_code="es")}
    await fake.push(**me, text="/labels zorro, oso, pato, утконос")
    await fake.push(**me, caption="/game", photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
    await fake.wait_for(lambda: len(fake.sent(who)) == 2)
    buttons = {b["text"] for row in fake.sent(who)[1]["reply_markup"]["inline_keyboard"] for b in row}
    assert buttons == {"zorro", "oso", "pato", "утконос"}
    await fake.push(**me, text="/reveal")
    await idle(fake, bot)
    reveal = str(fake.methods("editMessageText")[-1].params["text"])
    assert reveal.startswith("La IA vio: <b>zorro</b>"), reveal


async def test_a_word_outside_the_lexicon_still_gets_the_note(bot: Application,  # type: ignore[type-arg]
                                                              fake: FakeTelegram) -> None:
    for language, labels in (("ru", "утконос, броненосец, лиса"), ("es", "ñandú, ñu, zorro")):
        who = PEOPLE[language]
        await fake.push(chat=private_chat(who), **{"from": user(who, "Ann", language_code=language)},
                        text="/labels " + labels)
        await fake.wait_for(lambda who=who: len(fake.sent(who)) == 2)  # type: ignore[misc]
        assert fake.sent(who)[1]["text"].startswith(NOTE_START[language]), fake.sent(who)
