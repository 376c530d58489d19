"""Prompt templates: how a label becomes the sentences CLIP reads, in the label's language."""

from __future__ import annotations

from classifier.text.language import written_in

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

# For labels in other languages, read by a multilingual model: the same eight ideas, written for
# drawings too, and with a colon or a preposition, so that no article or adjective has to agree
# with the label's gender.
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
UKRAINIAN_TEMPLATES: tuple[str, ...] = (
    "малюнок: {}.",
    "мультяшний персонаж: {}.",
    "картинка: {}.",
    "ілюстрація: {}.",
    "це мультфільм, на картинці {}.",
    "начерк: {}.",
    "{} у дитячій книжці.",
    "наліпка: {}.",
)
SPANISH_TEMPLATES: tuple[str, ...] = (
    "esta es una pintura de {} de dibujos animados.",
    "dibujo animado: {}.",
    "un dibujo de {}.",
    "personaje de caricatura: {}.",
    "ilustración: {}.",
    "boceto: {}.",
    "{} en un libro infantil.",
    "pegatina: {}.",
)
# Brazilian Portuguese, like the bot's Portuguese catalog.
PORTUGUESE_TEMPLATES: tuple[str, ...] = (
    "esta é uma pintura de {} de desenho animado.",
    "desenho animado: {}.",
    "um desenho de {}.",
    "personagem de desenho animado: {}.",
    "ilustração: {}.",
    "esboço: {}.",
    "{} em um livro infantil.",
    "figurinha: {}.",
)
# A label in one of these languages is read through its templates; any other through the
# configured ones (CLIP_TEMPLATES).
LANGUAGE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "ru": RUSSIAN_TEMPLATES,
    "uk": UKRAINIAN_TEMPLATES,
    "es": SPANISH_TEMPLATES,
    "pt": PORTUGUESE_TEMPLATES,
}

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


def language_templates() -> tuple[str, ...]:
    """Every per-language template, in a fixed order: what a text-embedding cache's name must cover."""
    return tuple(template for templates in LANGUAGE_TEMPLATES.values() for template in templates)


def templates_for(label: str, templates: tuple[str, ...]) -> tuple[str, ...]:
    """The templates a label is read through: its language's (classifier/text/language.py), else templates."""
    language = written_in(label)
    return LANGUAGE_TEMPLATES[language] if language is not None else templates
