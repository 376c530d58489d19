"""Sentences for users kept as a template and its values, so that a reply layer can translate them.

str() of such an error is the English sentence; the bot translates `template` with gettext and
writes `values` the way the user's language writes numbers. The classifier itself never translates.
"""

from __future__ import annotations

Value = str | int | float


def plain_number(value: Value) -> str:
    """A value as the English sentence writes it: whole numbers bare, others with 1 to 3 decimals."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def whole_if_possible(value: float) -> int | float:
    """50.0 -> 50: a limit of 50 megapixels reads better than 50.0."""
    return int(value) if value == int(value) else value


class Explained(ValueError):
    """An error whose message is one sentence for the user, made of a template and its values."""

    def __init__(self, template: str, **values: Value) -> None:
        self.template = template
        self.values = values
        super().__init__(template.format(**{name: plain_number(v) for name, v in values.items()}))
