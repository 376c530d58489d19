"""Negative labels: the everyday things that are not animals (negatives.txt), which every label set
competes with for "none of these" answers (classifier/openset.py), and which of them a label set
keeps by its words."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

NEGATIVES_FILE = Path(__file__).with_name("negatives.txt")


def read_negatives(path: Path = NEGATIVES_FILE) -> tuple[str, ...]:
    """The negative labels of a file: one a line, blank lines and '#' comments skipped, each once."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))


NEGATIVE_LABELS: tuple[str, ...] = read_negatives()


def _words(text: str) -> set[str]:
    """A label's words, case-folded, each also without a plural 's'."""
    words = set(text.casefold().split())
    return words | {word[:-1] for word in words if len(word) > 3 and word.endswith("s")}


def overlaps(negative: str, labels: Sequence[str]) -> bool:
    """Whether a negative names what a label names: the same text, or all of one's words among the
    other's ('car' and 'racing cars', 'fire truck' and 'truck'), plural 's' aside. Such a negative
    would take the label's own pictures from it."""
    mine = _words(negative)
    for label in labels:
        theirs = _words(label)
        if mine and theirs and (mine <= theirs or theirs <= mine):
            return True
    return False
