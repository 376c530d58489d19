"""Languages: every catalog is complete and compiled, plurals and numbers are each language's own,
Telegram codes pick the right language, and labels not in English get the English-model note once."""

from __future__ import annotations

import gettext
import string
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from telegram.ext import Application

from bot.settings import BotSettings
from bot.words.i18n import ANIMAL_CONTEXT, DOMAIN, LANGUAGES, LOCALE_DIR, language_of, speaker
from bot.words.labelscript import is_latin, is_spanish_or_portuguese, mostly_non_latin, mostly_not_english
from classifier import DEFAULT_LABELS
from tests.conftest import idle, running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"t": None, "plural": (1, 2), "N_": None, "LabelError": None, "ImageTooLarge": None, "NotAnImage": None,
            "DamagedImage": None, "NoPicture": None, "C_": ((1, "c"), 2)}
TRANSLATED = LANGUAGES[1:]  # every compiled catalog
IVAN, OLGA, ANN, ANA, JOAO, OKSANA = 1101, 1102, 1103, 1104, 1105, 1106
GROUP = -100999
# Which plural form each language uses for 1, 2, 5, 11 and 21, written out from its grammar.
FORMS = {"ru": (0, 1, 2, 2, 0), "uk": (0, 1, 2, 2, 0), "es": (0, 1, 1, 1, 1), "pt": (0, 1, 1, 1, 1)}
COUNTS = (1, 2, 5, 11, 21)
NOTE = ("Note: the model reads English, so labels in other languages or scripts are understood poorly. "
        "The bot's owner can set {setting} to a multilingual model.")


def po_file(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def catalog(language: str) -> Any:
    with po_file(language).open("rb") as po:
        return read_po(po)


def source_messages() -> set[tuple[str | tuple[str, str], str | None]]:
    """(message, context) for every sentence the bot can say, as Babel extracts them."""
    found: set[tuple[str | tuple[str, str], str | None]] = set()
    for folder in ("bot", "classifier"):
        for _, _, message, _, context in extract_from_dir(ROOT / folder, keywords=KEYWORDS):  # type: ignore[arg-type]
            found.add((message if isinstance(message, str) else (message[0], message[1]), context))
    return found


def entries(messages: Any) -> dict[tuple[Any, str | None], Any]:
    """{(id, context): translation} of a catalog, plural ids and forms as tuples."""
    def frozen(value: Any) -> Any:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {(frozen(e.id), e.context): frozen(e.string) for e in messages if e.id}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_the_languages_are_english_and_every_compiled_catalog() -> None:
    assert LANGUAGES[0] == "en" and {"es", "pt", "ru", "uk"} <= set(TRANSLATED)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_has_a_translation_that_keeps_its_placeholders(language: str) -> None:
    po = catalog(language)
    if language in FORMS:
        assert po.num_plurals == max(FORMS[language]) + 1
    messages = source_messages()
    assert len(messages) > 60
    for message, context in messages:
        entry = po.get(message[0] if isinstance(message, tuple) else message, context=context)
        assert entry is not None and entry.string, f"no {language} for {message!r}"
        english = message if isinstance(message, tuple) else (message,)
        wanted = set().union(*(fields(e) for e in english))
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert len(translations) == (po.num_plurals if isinstance(message, tuple) else 1), message
        for translated in translations:
            assert translated, f"an empty plural form for {message!r}"
            assert fields(translated) == wanted, (message, translated)
    for animal in DEFAULT_LABELS:
        entry = po.get(animal, context=ANIMAL_CONTEXT)
        assert entry is not None and entry.string and entry.string != animal, animal


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(language: str) -> None:
    po = catalog(language)
    with po_file(language).with_suffix(".mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
        compiled.seek(0)
        mo_catalog = read_mo(compiled)
    assert entries(po) == entries(mo_catalog)  # the same messages and translations, none stale or missing
    assert (mo_catalog.num_plurals, mo_catalog.plural_expr) == (po.num_plurals, po.plural_expr)
    for entry in po:
        if not entry.id:
            continue
        if isinstance(entry.id, tuple):
            if language not in FORMS:
                pytest.fail(f"write {language}'s plural forms for {COUNTS} into FORMS")
            for n, form in zip(COUNTS, FORMS[language], strict=True):
                assert mo.ngettext(entry.id[0], entry.id[1], n) == entry.string[form], (entry.id, n)
        elif entry.context:
            assert mo.pgettext(entry.context, entry.id) == entry.string, entry.id
        else:
            assert mo.gettext(entry.id) == entry.string, entry.id


def test_plural_forms_for_1_2_5_11_and_21() -> None:
    said = {language: [speaker(language).plural("Votes: {n}", "Votes: {n}", n) for n in COUNTS]
            for language in LANGUAGES}
    assert said == {
        "en": ["Votes: 1", "Votes: 2", "Votes: 5", "Votes: 11", "Votes: 21"],
        "ru": ["1 голос", "2 голоса", "5 голосов", "11 голосов", "21 голос"],
        "uk": ["1 голос", "2 голоси", "5 голосів", "11 голосів", "21 голос"],
        "es": ["1 voto", "2 votos", "5 votos", "11 votos", "21 votos"],
        "pt": ["1 voto", "2 votos", "5 votos", "11 votos", "21 votos"],
    }
    assert speaker("pt").plural("Votes: {n}", "Votes: {n}", 0) == "0 votos"  # zero is plural, as in Brazil's speech
    right = {language: [speaker(language).plural("Right: {names} — one point each.",
                                                 "Right: {names} — one point each.", n, names="A") for n in (1, 2)]
             for language in TRANSLATED}
    assert right["uk"] == ["+1 бал: A.", "Вгадали: A — по одному балу."]
    assert right["es"] == ["Acertó: A — un punto.", "Acertaron: A — un punto cada uno."]
    assert right["pt"] == ["Acertou: A — um ponto.", "Acertaram: A — um ponto cada."]


def test_numbers_as_each_language_writes_them() -> None:
    percents = {language: (speaker(language).percent(0.87), speaker(language).percent(0.004)) for language in LANGUAGES}
    assert percents == {"en": ("87%", "<1%"), "ru": ("87\xa0%", "<1\xa0%"), "uk": ("87%", "<1%"),
                        "es": ("87\xa0%", "<1\xa0%"), "pt": ("87%", "<1%")}
    numbers = {language: speaker(language).number(25.0) for language in LANGUAGES}
    assert numbers == {"en": "25.0", "ru": "25,0", "uk": "25,0", "es": "25,0", "pt": "25,0"}
    assert speaker("es").number(60.5) == "60,5"


def test_which_language_a_telegram_code_reads() -> None:
    codes = {"ru": "ru", "ru-RU": "ru", "be": "ru", "kk": "en", "uk": "uk", "uk-UA": "uk", "es": "es",
             "es-419": "es", "pt": "pt", "pt-br": "pt", "pt-BR": "pt", "pt-PT": "pt", "en": "en", "de": "en",
             "zz": "en", "": "en", None: "en"}
    assert {code: language_of(code) for code in codes} == codes
    assert speaker("xx").language == "en" and speaker("ru").animal("wolf") == "wolf"


def test_the_ukrainian_catalog_has_no_russian_and_spanish_and_portuguese_stay_apart() -> None:
    russian = {e.id: e.string for e in catalog("ru") if e.id}
    for entry in catalog("uk"):
        if not entry.id:
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for form in forms:
            assert not set("ыэъёЫЭЪЁ") & set(form), form  # letters only Russian has
        if entry.id not in ("lion", "elephant", "rabbit"):  # the same word in both languages
            assert entry.string != russian[entry.id], entry.id
    for language, foreign in (("es", "ãõçÃÕÇ"), ("pt", "ñ¿¡Ñ")):
        for entry in catalog(language):
            forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            assert not any(set(foreign) & set(form) for form in forms), (language, entry.id)


def test_which_labels_an_english_model_reads_poorly() -> None:
    assert is_latin("fox") and is_latin("leão") and not is_latin("лиса") and is_latin("123")
    assert mostly_non_latin(("кот", "собака", "fox")) and not mostly_non_latin(("кот", "dog", "fox"))
    spanish_or_portuguese = ["zorro", "perro", "ratón", "raton", "ñandú", "¿gato?", "raposa", "cachorro", "leão",
                             "leao", "onça", "pássaro azul", "gato", "pato", "elefante"]
    english = ["fox", "dog", "cat", "panda", "koala", "zebra", "owl", "lion", "duck", "red fox", "café", "лиса"]
    assert [w for w in spanish_or_portuguese if not is_spanish_or_portuguese(w)] == []
    assert [w for w in english if is_spanish_or_portuguese(w)] == []
    for language in LANGUAGES:  # the default animals' names are in the lexicon: read through English
        names = tuple(speaker(language).animal(label) for label in DEFAULT_LABELS)
        assert not mostly_not_english(names), (language, names)
    assert not mostly_not_english(("cat", "dog", "ñandú")) and mostly_not_english(("cat", "ñandú", "onça"))
    assert not mostly_not_english(("cat", "perro", "zorro")) and mostly_not_english(("утконос", "броненосец", "лиса"))


async def test_labels_not_in_english_with_an_english_model_get_one_note(bot: Application,  # type: ignore[type-arg]
                                                                      fake: FakeTelegram) -> None:
    def person(user_id: int, language: str) -> dict[str, Any]:
        return {"chat": private_chat(user_id), "from": user(user_id, "Ann", language_code=language)}

    # Animals the lexicon does not know (it reads лиса, zorro, cachorro, кіт through English: tests/test_lexicon.py).
    for _ in range(2):
        await fake.push(**person(IVAN, "ru"), text="/labels утконос, броненосец, лиса")
    await fake.push(**person(ANN, "en"), text="/labels cat, owl")
    await fake.push(**person(ANN, "en"), text="/labels cat, dog, ñandú")  # mostly English: no note
    await fake.push(**person(ANA, "es"), text="/labels ñandú, ñu, zorro")
    await fake.push(**person(JOAO, "pt-br"), text="/labels onça, jaçanã, cachorro")
    await fake.push(**person(OKSANA, "uk"), text="/labels ховрах, лелека, кіт")
    await idle(fake, bot)
    texts = {who: [m["text"] for m in fake.sent(who)] for who in (IVAN, ANN, ANA, JOAO, OKSANA)}
    assert texts[IVAN] == ["Метки заданы (3): утконос, броненосец, лиса", speaker("ru")(NOTE, setting="CLIP_MODEL"),
                           "Метки заданы (3): утконос, броненосец, лиса"]  # stored all the same, noted once
    assert texts[ANN] == ["Labels set (2): cat, owl", "Labels set (3): cat, dog, ñandú"]
    assert texts[ANA] == ["Etiquetas guardadas (3): ñandú, ñu, zorro", speaker("es")(NOTE, setting="CLIP_MODEL")]
    assert texts[JOAO] == ["Rótulos definidos (3): onça, jaçanã, cachorro", speaker("pt")(NOTE, setting="CLIP_MODEL")]
    assert texts[OKSANA] == ["Мітки задано (3): ховрах, лелека, кіт", speaker("uk")(NOTE, setting="CLIP_MODEL")]
    assert "модель читает по-английски" in texts[IVAN][1] and "el modelo lee en inglés" in texts[ANA][1]



async def test_the_same_animal_in_every_language(bot: Application, fake: FakeTelegram,  # type: ignore[type-arg]
                                                  samples_dir: Path) -> None:
    people = {IVAN: ("ru", "ru"), ANN: ("en", "en"), ANA: ("es", "es"), JOAO: ("pt-br", "pt"), OKSANA: ("uk", "uk")}
    for who, (code, _) in people.items():
        for label in ("fox", "duck", "elephant"):
            await fake.push(chat=private_chat(who), **{"from": user(who, "Ann", language_code=code)},
                            photo=fake.photo([(64, 64, sample(samples_dir, label))]))
    await idle(fake, bot)
    names = {
        "en": ["duck", "elephant", "fox"], "ru": ["утка", "слон", "лиса"], "uk": ["качка", "слон", "лисиця"],
        "es": ["pato", "elefante", "zorro"], "pt": ["pato", "elefante", "raposa"],
    }
    for who, (code, language) in people.items():
        answers = [m["text"].split("</b>")[0].removeprefix("<b>") for m in fake.sent(who)]
        assert len(answers) == 3 and sorted(answers) == sorted(names[language]), (code, answers)


async def test_language_switches_a_chat_and_survives_a_restart(bot_settings: BotSettings, fake: FakeTelegram) -> None:
    async with running_bot(bot_settings):
        await fake.push(chat=private_chat(OLGA), **{"from": user(OLGA, "Olga", language_code="en")},
                        text="/language ru")
        await fake.wait_for(lambda: len(fake.sent(OLGA)) == 1)
        await fake.push(chat=private_chat(OKSANA), **{"from": user(OKSANA, "Oksana", language_code="ru")},
                        text="/language uk")
        await fake.wait_for(lambda: len(fake.sent(OKSANA)) == 1)
        await fake.push(chat=group_chat(GROUP), **{"from": user(ANN, "Ann", language_code="ru")}, text="/language en")
        await fake.wait_for(lambda: len(fake.sent(GROUP)) == 1)
    assert fake.sent(OLGA)[0]["text"] == "Теперь в этом чате я говорю по-русски."
    assert fake.sent(OKSANA)[0]["text"] == "Тепер у цьому чаті я розмовляю українською."
    assert fake.sent(GROUP)[0]["text"] == "Менять язык группы могут только её администраторы."
    async with running_bot(bot_settings):
        await fake.push(chat=private_chat(OLGA), **{"from": user(OLGA, "Olga", language_code="en")}, text="/help")
        await fake.push(chat=private_chat(OKSANA), **{"from": user(OKSANA, "Oksana", language_code="ru")},
                        text="/labels")
        fake.members[(GROUP, ANN)] = "administrator"
        await fake.push(chat=group_chat(GROUP), **{"from": user(ANN, "Ann", language_code="ru")}, text="/language en")
        await fake.wait_for(lambda: len(fake.sent(OLGA)) == 2 and len(fake.sent(GROUP)) == 2
                            and len(fake.sent(OKSANA)) == 2)
        await fake.push(chat=group_chat(GROUP), **{"from": user(IVAN, "Ivan", language_code="ru")}, text="/top")
        await fake.wait_for(lambda: len(fake.sent(GROUP)) == 3)
    assert fake.sent(OLGA)[1]["text"].startswith("<b>toonclip</b> угадывает")
    assert fake.sent(OKSANA)[1]["text"].startswith("Мітки (стандартний набір, 10): кіт, пес, лисиця")
    assert fake.sent(GROUP)[1]["text"] == "This chat now speaks English."
    assert fake.sent(GROUP)[2]["text"] == "No points yet: start a round with /game."  # the chat's choice wins
