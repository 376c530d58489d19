"""Prompt templates: how a label becomes the sentences CLIP reads."""

from __future__ import annotations

# Written for drawings: CLIP matches a caption, and captions of cartoons say so.
# The first is the original tutorial's prompt. Eight templates keep a new 10-label
# set under two seconds of text encoding on a 2-core CPU (see README, Performance).
DEFAULT_TEMPLATES: tuple[str, ...] = (
    "this is a painting of cartoon {}.",
    "a cartoon {}.",
    "a drawing of a {}.",
    "a cartoon drawing of a {}.",
    "an illustration of a {}.",
    "a sketch of a {}.",
    "a {} in a children's book.",
    "a sticker of a cute {}.",
)

# For labels written in Cyrillic, read by a multilingual model: written for drawings too, and
# with a colon, so that no adjective has to agree with the label's gender.
RUSSIAN_TEMPLATES: tuple[str, ...] = (
    "рисунок: {}.",
    "мультяшный персонаж: {}.",
    "картинка: {}.",
    "иллюстрация: {}.",
    "это мультфильм, на картинке {}.",
    "набросок: {}.",
    "{} в детской книжке.",
    "наклейка: {}.",
)

PLACEHOLDER = "{}"


class TemplateError(ValueError):
    """A template list that cannot be used."""


def check_templates(templates: tuple[str, ...]) -> tuple[str, ...]:
    """Return the templates if each holds exactly one '{}' placeholder."""
    if not templates:
        raise TemplateError("At least one prompt template is needed.")
    for template in templates:
        if template.count(PLACEHOLDER) != 1:
            raise TemplateError(f"Template '{template}' must hold exactly one '{{}}' placeholder.")
    return templates


def expand(label: str, templates: tuple[str, ...]) -> list[str]:
    """The sentences for one label, one per template."""
    return [template.replace(PLACEHOLDER, label) for template in templates]


def is_cyrillic(label: str) -> bool:
    """Whether the label is written in Cyrillic (any of its letters)."""
    return any("\u0400" <= ch <= "\u04ff" for ch in label)


def templates_for(label: str, templates: tuple[str, ...]) -> tuple[str, ...]:
    """The templates a label is read through, picked by the script it is written in."""
    return RUSSIAN_TEMPLATES if is_cyrillic(label) else templates
