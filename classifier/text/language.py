"""Which language a label is written in, as far as its letters and a few animal words tell.

The classifier reads each label through templates in the label's language (`classifier/text/prompts.py`).
Cyrillic is Ukrainian when it uses letters only Ukrainian has (і ї є ґ) or a word only Ukrainian
uses (лисиця, миша, качка, …), else Russian. Latin is Spanish or Portuguese when it uses letters or
marks only one of them has among the two and English (ñ ¿ ¡; ã õ ç) or a common animal's name in
that language (the default animals' and some more, with and without accents); a word both share
(gato, pato, elefante) counts for Spanish. Anything else is English, or a script we have no
templates for: None.
"""

from __future__ import annotations

import re

UKRAINIAN_LETTERS = frozenset("іїєґ")
RUSSIAN_LETTERS = frozenset("ыэъё")
SPANISH_MARKS = frozenset("ñ¿¡")
PORTUGUESE_MARKS = frozenset("ãõç")

# Words only Ukrainian writes so (Russian spells them otherwise); words with і ї є ґ need no entry.
UKRAINIAN_WORDS = frozenset({
    "лисиця", "миша", "мишка", "качка", "качечка", "свиня", "свинка", "вовк", "птах", "мавпа", "жирафа",
    "змія", "метелик", "цуценя", "кошеня", "ховрах", "лелека", "горобець", "бобер", "рибка",
})
# Common animals in Spanish and in Brazilian Portuguese, none of them a common English word.
SPANISH_WORDS = frozenset({
    "gato", "gatito", "perro", "perrito", "zorro", "oso", "osito", "conejo", "conejito", "ratón", "raton",
    "pato", "patito", "cerdo", "cerdito", "león", "leon", "elefante", "lobo", "búho", "buho", "lechuza",
    "caballo", "vaca", "rana", "pájaro", "pajaro", "pez", "tortuga", "tigre", "mapache", "jirafa", "pingüino",
    "pinguino", "oveja", "gallina", "ardilla", "serpiente", "ballena", "cocodrilo", "mariposa", "cebra",
})
PORTUGUESE_WORDS = frozenset({
    "gato", "gatinho", "cachorro", "cachorrinho", "cão", "cao", "raposa", "urso", "ursinho", "coelho",
    "coelhinho", "rato", "ratinho", "camundongo", "pato", "patinho", "porco", "porquinho", "leão", "leao",
    "elefante", "lobo", "coruja", "cavalo", "vaca", "sapo", "rã", "pássaro", "passaro", "peixe",
    "tartaruga", "tigre", "macaco", "girafa", "pinguim", "ovelha", "galinha", "esquilo", "baleia",
    "jacaré", "jacare", "borboleta",
})
WORD = re.compile(r"\w+")


def is_cyrillic_letter(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def written_in(label: str) -> str | None:
    """'ru', 'uk', 'es' or 'pt' for a label plainly written in that language; None otherwise."""
    text = label.lower()
    words = set(WORD.findall(text))
    if any(is_cyrillic_letter(ch) for ch in text):
        ukrainian = bool(UKRAINIAN_LETTERS.intersection(text) or UKRAINIAN_WORDS & words)
        return "uk" if ukrainian and not RUSSIAN_LETTERS.intersection(text) else "ru"
    spanish = len(SPANISH_MARKS.intersection(text)) + len(SPANISH_WORDS & words)
    portuguese = len(PORTUGUESE_MARKS.intersection(text)) + len(PORTUGUESE_WORDS & words)
    if spanish == portuguese == 0:
        return None
    return "pt" if portuguese > spanish else "es"
