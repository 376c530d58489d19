"""Whether an English-only model will read a chat's labels poorly: mostly another script, or plainly
Spanish or Portuguese, and not in the lexicon.

Scripts are told by Unicode letter names (Latin or not). Spanish and Portuguese are told as the
classifier tells them for its templates (`classifier/text/language.py`): letters and marks only they
use (ñ ¿ ¡ ã õ ç) or a common animal's name in either language (gato, perro, raposa, leão, …). A label
the lexicon knows (лиса, лисиця, zorro, raposa: `classifier/text/lexicon.py`) is read well: the model
reads it through its English name.
"""

from __future__ import annotations

import unicodedata

from classifier.text.language import written_in
from classifier.text.lexicon import english_name

ROMANCE = frozenset({"es", "pt"})


def is_latin(label: str) -> bool:
    """Whether at least half of a label's letters are Latin (a label without letters counts as Latin)."""
    letters = [ch for ch in label if ch.isalpha()]
    latin = sum(ch.isascii() or "LATIN" in unicodedata.name(ch, "") for ch in letters)
    return 2 * latin >= len(letters)


def mostly_non_latin(labels: tuple[str, ...]) -> bool:
    """Whether most labels are written in a script other than Latin (Cyrillic, Greek, CJK, ...)."""
    return 2 * sum(not is_latin(label) for label in labels) > len(labels)


def is_spanish_or_portuguese(label: str) -> bool:
    """Whether a Latin label is plainly Spanish or Portuguese (ñ, ã, ç, or a word like perro, raposa)."""
    return is_latin(label) and written_in(label) in ROMANCE


def read_poorly(label: str) -> bool:
    """Whether an English-only model reads a label poorly: in another script, or plainly Spanish or
    Portuguese, and not a name the lexicon reads through English."""
    return (not is_latin(label) or is_spanish_or_portuguese(label)) and english_name(label) is None


def mostly_not_english(labels: tuple[str, ...]) -> bool:
    """Whether an English-only model reads most labels poorly (read_poorly)."""
    return 2 * sum(read_poorly(label) for label in labels) > len(labels)
