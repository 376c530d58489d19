"""The lexicon: common animals' names in Russian, Ukrainian, Spanish and Portuguese, and their English names.

An English-only model reads a label the lexicon knows (`zorro`, `лисиця`, `raposa`) through its English
name (`fox`), so that a chat may write its labels in its own language. The names come from Unicode
CLDR's emoji annotations and the catalogs' default animals (`lexicon.tsv` beside this module, built by
`scripts/lexicon`; its licence is `lexicon-LICENSE.txt`). Lookups are normalised by `normal`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LEXICON_FILE = Path(__file__).resolve().parent / "lexicon.tsv"
ENGLISH = "en"
# The file's columns after the English name, in order.
LANGUAGES = ("ru", "uk", "es", "pt")
NAME_SEPARATOR = ", "
APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})


def normal(word: str) -> str:
    """A word as the lexicon compares it: NFC, case folded, spaces collapsed, ё as е, Ukrainian
    apostrophes as ', and accents dropped from Latin letters (ratón as raton, leão as leao, ñ as n).
    Cyrillic keeps its letters (й, ї stay). Plurals are not reduced: `zorros` is not `zorro`."""
    text = " ".join(unicodedata.normalize("NFC", word).casefold().split())
    text = text.replace("ё", "е").translate(APOSTROPHES)
    if text.isascii():
        return text
    plain = []
    for ch in text:
        decomposed = unicodedata.normalize("NFD", ch)
        plain.append(decomposed[0] if decomposed[0].isascii() and decomposed[0].isalpha() else ch)
    return "".join(plain)


@dataclass(frozen=True)
class Lexicon:
    """English name of each known name: `english('Лисиця') == 'fox'`; an English name maps to nothing."""

    rows: tuple[tuple[str, dict[str, tuple[str, ...]]], ...]
    _english_of: dict[str, str]

    @classmethod
    def from_rows(cls, rows: tuple[tuple[str, dict[str, tuple[str, ...]]], ...]) -> Lexicon:
        """Index rows of (English name, {language: names}); a name two rows claim is a LexiconError."""
        english_names = {normal(english) for english, _ in rows}
        english_of: dict[str, str] = {}
        for english, names in rows:
            for language in LANGUAGES:
                for name in names.get(language, ()):
                    key = normal(name)
                    if key in english_names:
                        continue  # an English word stays what it is (panda, gorila aside)
                    if english_of.setdefault(key, english) != english:
                        raise LexiconError(f"'{name}' names both {english_of[key]} and {english}.")
        return cls(rows, english_of)

    def english(self, label: str) -> str | None:
        """The English name of a label the lexicon knows in another language; None for any other label."""
        return self._english_of.get(normal(label))

    def __len__(self) -> int:
        return len(self.rows)


class LexiconError(ValueError):
    """A lexicon file that cannot be used."""


def parse(text: str) -> tuple[tuple[str, dict[str, tuple[str, ...]]], ...]:
    """Rows of a lexicon file: '#' lines are comments, the first other line the header (en, ru, uk, es, pt),
    then one animal a line: its English name, then each language's names separated by ', '."""
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or tuple(lines[0].split("\t")) != (ENGLISH, *LANGUAGES):
        raise LexiconError(f"A lexicon's header must be {ENGLISH} and {', '.join(LANGUAGES)}, tab-separated.")
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        if len(cells) != 1 + len(LANGUAGES):
            raise LexiconError(f"Lexicon row {number} has {len(cells)} columns; {1 + len(LANGUAGES)} are needed.")
        names = {language: tuple(cell.split(NAME_SEPARATOR)) if cell else ()
                 for language, cell in zip(LANGUAGES, cells[1:], strict=True)}
        rows.append((cells[0], names))
    return tuple(rows)


@cache
def lexicon() -> Lexicon:
    """The lexicon of lexicon.tsv, read once."""
    return Lexicon.from_rows(parse(LEXICON_FILE.read_text(encoding="utf-8")))


def english_name(label: str) -> str | None:
    """The English name of a label in Russian, Ukrainian, Spanish or Portuguese that the lexicon knows."""
    return lexicon().english(label)
