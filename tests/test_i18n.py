"""Languages: the Russian catalog is complete and compiled, and a Russian user sees only Russian."""

from __future__ import annotations

import gettext
import json
import re
import string
from dataclasses import replace
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import ANIMAL_CONTEXT, DOMAIN, LOCALE_DIR, language_of, speaker
from bot.settings import BotSettings
from classifier import DEFAULT_LABELS
from tests.conftest import running_bot, sample
from tests.fake_telegram import FakeTelegram, group_chat, private_chat, user

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"t": None, "plural": (1, 2), "N_": None, "LabelError": None, "ImageTooLarge": None, "NotAnImage": None,
            "DamagedImage": None, "NoPicture": None, "C_": ((1, "c"), 2)}
RU_PO = LOCALE_DIR / "ru" / "LC_MESSAGES" / f"{DOMAIN}.po"
IVAN, OLGA, ANN = 1101, 1102, 1103
GROUP = -100999
# Letters a Russian reader may see besides Cyrillic: commands, format names, the bot's name, markup.
ALLOWED_LATIN = re.compile(r"/\w+|<[^>]+>|toonclip|JPEG|PNG|WEBP|GIF|BMP|TIFF|HEIC|AVIF|ru|en|reset|MB")


def russian_catalog() -> Any:
    with RU_PO.open("rb") as po:
        return read_po(po)


def source_messages() -> set[tuple[str | tuple[str, str], str | None]]:
    """(message, context) for every sentence the bot can say, as Babel extracts them."""
    found: set[tuple[str | tuple[str, str], str | None]] = set()
    for folder in ("bot", "classifier"):
        for _, _, message, _, context in extract_from_dir(ROOT / folder, keywords=KEYWORDS):  # type: ignore[arg-type]
            found.add((message if isinstance(message, str) else (message[0], message[1]), context))
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_a_russian_translation_that_keeps_its_placeholders() -> None:
    catalog = russian_catalog()
    messages = source_messages()
    assert len(messages) > 60
    for message, context in messages:
        entry = catalog.get(message[0] if isinstance(message, tuple) else message, context=context)
        assert entry is not None and entry.string, f"no Russian for {message!r}"
        english = message if isinstance(message, tuple) else (message,)
        wanted = set().union(*(fields(e) for e in english))
        translations = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        for translated in translations:
            assert translated, f"an empty plural form for {message!r}"
            assert fields(translated) == wanted, (message, translated)
    for animal in DEFAULT_LABELS:
        entry = catalog.get(animal, context=ANIMAL_CONTEXT)
        assert entry is not None and entry.string, animal


def test_the_compiled_catalog_matches_its_source() -> None:
    catalog = russian_catalog()
    with RU_PO.with_suffix(".mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    for entry in catalog:
        if not entry.id:
            continue
        if isinstance(entry.id, tuple):
            for n, form in ((1, 0), (3, 1), (5, 2)):
                assert mo.ngettext(entry.id[0], entry.id[1], n) == entry.string[form], entry.id
        elif entry.context:
            assert mo.pgettext(entry.context, entry.id) == entry.string, entry.id
        else:
            assert mo.gettext(entry.id) == entry.string, entry.id


def test_numbers_plurals_and_languages() -> None:
    ru, en = speaker("ru"), speaker("en")
    assert [ru.plural("Votes: {n}", "Votes: {n}", n) for n in (1, 2, 5, 11, 21, 22)] == [
        "1 голос", "2 голоса", "5 голосов", "11 голосов", "21 голос", "22 голоса"]
    assert en.plural("Votes: {n}", "Votes: {n}", 2) == "Votes: 2"
    assert (en.percent(0.87), ru.percent(0.87)) == ("87%", "87\xa0%")
    assert (en.percent(0.004), ru.percent(0.004)) == ("<1%", "<1\xa0%")
    assert (en.number(25.0), ru.number(25.0), ru.number(60.5)) == ("25.0", "25,0", "60,5")
    assert [language_of(code) for code in ("ru", "uk", "be", "kk", "ru-RU", "en", "de", None)] == [
        "ru", "ru", "ru", "ru", "ru", "en", "en", "en"]
    assert ru.animal("fox") == "лиса" and ru.animal("wolf") == "wolf" and en.animal("fox") == "fox"


def russian_only(text: str) -> bool:
    """No English words left once commands, markup and format names are taken out."""
    return not re.search(r"[A-Za-z]{3,}", ALLOWED_LATIN.sub("", text))


def person(user_id: int, language: str, name: str = "Ivan") -> dict[str, Any]:
    return user(user_id, name, language_code=language)


async def test_a_russian_user_sees_only_russian(bot_settings: BotSettings, fake: FakeTelegram,
                                               samples_dir: Path) -> None:
    async with running_bot(bot_settings):
        say = {"chat": private_chat(IVAN), "from": person(IVAN, "ru")}
        await fake.push(**say, text="/start")
        await fake.push(**say, photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.push(**say, text="/labels")
        await fake.push(**say, document={"file_id": fake.add_file(b"%PDF-1.4"), "file_unique_id": "d",
                                         "file_name": "a.pdf", "mime_type": "application/pdf", "file_size": 8})
        await fake.push(**say, text="/labels кот, " + "я" * 61)
        await fake.wait_for(lambda: len(fake.sent(IVAN)) == 5)
        texts = [m["text"] for m in fake.sent(IVAN)]
        for text in texts:
            assert russian_only(text), text
        answer = next(t for t in texts if " — " in t and "%" in t)
        assert answer.startswith("<b>лиса</b> — ") and answer.split("\n")[0].endswith("\xa0%")
        assert "кошка, собака, лиса" in next(t for t in texts if t.startswith("Метки (набор по умолчанию"))
    commands = fake.methods("setMyCommands")
    assert {c.params.get("language_code") for c in commands} == {None, "ru", "uk", "be", "kk"}
    russian_menu = next(c for c in commands if c.params.get("language_code") == "ru")
    menu = {c["command"]: c["description"] for c in json.loads(russian_menu.params["commands"])}
    assert menu["top"] == "таблица лидеров чата" and menu["language"] == "язык чата: ru или en"


async def test_the_same_animal_in_either_language(bot: object, fake: FakeTelegram, samples_dir: Path) -> None:
    for who, language in ((IVAN, "ru"), (ANN, "en")):
        for label in ("fox", "duck", "elephant"):
            await fake.push(chat=private_chat(who), **{"from": person(who, language)},
                            photo=fake.photo([(64, 64, sample(samples_dir, label))]))
    await fake.wait_for(lambda: len(fake.sent(IVAN)) == 3 and len(fake.sent(ANN)) == 3)
    english = [m["text"].split("</b>")[0].removeprefix("<b>") for m in fake.sent(ANN)]
    russian = [m["text"].split("</b>")[0].removeprefix("<b>") for m in fake.sent(IVAN)]
    names = {speaker("ru").animal(label): label for label in DEFAULT_LABELS}
    assert sorted(english) == ["duck", "elephant", "fox"]
    assert sorted(names[name] for name in russian) == sorted(english)


async def test_language_switches_a_chat_and_survives_a_restart(bot_settings: BotSettings, fake: FakeTelegram,
                                                              samples_dir: Path) -> None:
    async with running_bot(bot_settings):
        await fake.push(chat=private_chat(OLGA), **{"from": person(OLGA, "en", "Olga")}, text="/language ru")
        await fake.wait_for(lambda: len(fake.sent(OLGA)) == 1)
        await fake.push(chat=group_chat(GROUP), **{"from": person(ANN, "ru", "Ann")}, text="/language en")
        await fake.wait_for(lambda: len(fake.sent(GROUP)) == 1)
    assert fake.sent(OLGA)[0]["text"] == "Теперь этот чат говорит по-русски."
    assert fake.sent(GROUP)[0]["text"] == "Менять язык группы могут только её администраторы."
    async with running_bot(bot_settings):
        await fake.push(chat=private_chat(OLGA), **{"from": person(OLGA, "en", "Olga")}, text="/help")
        fake.members[(GROUP, ANN)] = "administrator"
        await fake.push(chat=group_chat(GROUP), **{"from": person(ANN, "ru", "Ann")}, text="/language en")
        await fake.wait_for(lambda: len(fake.sent(OLGA)) == 2 and len(fake.sent(GROUP)) == 2)
        await fake.push(chat=group_chat(GROUP), **{"from": person(IVAN, "ru")}, text="/top")
        await fake.wait_for(lambda: len(fake.sent(GROUP)) == 3)
    assert fake.sent(OLGA)[1]["text"].startswith("<b>toonclip</b> угадывает")
    assert fake.sent(GROUP)[1]["text"] == "This chat now speaks English."
    assert fake.sent(GROUP)[2]["text"] == "No points yet: start a round with /game."  # the chat's choice wins


async def test_a_russian_group_plays_in_russian(bot_settings: BotSettings, fake: FakeTelegram,
                                                samples_dir: Path) -> None:
    async with running_bot(replace(bot_settings, game_round_seconds=60)):
        picture = await fake.push(chat=group_chat(GROUP), **{"from": person(IVAN, "ru")},
                                  photo=fake.photo([(64, 64, sample(samples_dir, "fox"))]))
        await fake.push(chat=group_chat(GROUP), **{"from": person(IVAN, "ru")}, text="/game", reply_to_message=picture)
        await fake.wait_for(lambda: any(str(m["text"]).startswith("Какое животное") for m in fake.sent(GROUP)))
        call = next(c for c in fake.methods("sendMessage") if str(c.params["text"]).startswith("Какое животное"))
        assert call.params["text"] == "Какое животное видит ИИ?\n0 голосов"
        buttons = {b["text"]: b["callback_data"] for row in json.loads(call.params["reply_markup"])["inline_keyboard"]
                   for b in row}
        assert "лиса" in buttons and all(russian_only(name) for name in buttons)
        await fake.push_update({"callback_query": {
            "id": "press-ru", "from": person(OLGA, "ru", "Olga"), "chat_instance": "c", "data": buttons["лиса"],
            "message": {"message_id": call.result["message_id"], "date": 0, "chat": group_chat(GROUP), "text": "x"}}})
        await fake.wait_for(lambda: bool(fake.methods("answerCallbackQuery")))
        assert fake.methods("answerCallbackQuery")[0].params["text"] == "Ваш выбор: лиса"
        await fake.push(chat=group_chat(GROUP), **{"from": person(IVAN, "ru")}, text="/reveal")
        await fake.wait_for(lambda: any("ИИ увидел" in str(c.params["text"]) for c in fake.methods("editMessageText")))
        await fake.push(chat=group_chat(GROUP), **{"from": person(IVAN, "ru")}, text="/top")
        await fake.wait_for(lambda: any(str(m["text"]).startswith("<b>Таблица лидеров") for m in fake.sent(GROUP)))
    edits = [str(c.params["text"]) for c in fake.methods("editMessageText")]
    reveal = next(text for text in edits if "ИИ увидел" in text)
    assert reveal.startswith("ИИ увидел: <b>лиса</b> (") and "Угадал(а): Olga — одно очко." in reveal
    assert russian_only(reveal.replace("Olga", ""))


async def test_non_latin_labels_with_an_english_model_get_one_note(bot: object, fake: FakeTelegram) -> None:
    for _ in range(2):
        await fake.push(chat=private_chat(IVAN), **{"from": person(IVAN, "ru")}, text="/labels кот, собака, лиса")
    await fake.wait_for(lambda: len(fake.sent(IVAN)) >= 3)
    texts = [m["text"] for m in fake.sent(IVAN)]
    assert sum("модель читает по-английски" in t for t in texts) == 1
    assert sum(t.startswith("Метки заданы (3): кот, собака, лиса") for t in texts) == 2  # stored all the same
    await fake.push(chat=private_chat(ANN), **{"from": person(ANN, "en", "Ann")}, text="/labels cat, owl")
    await fake.wait_for(lambda: len(fake.sent(ANN)) == 1)
