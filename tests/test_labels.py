from __future__ import annotations

import pytest

from classifier import MAX_LABEL_CHARS, MAX_LABELS, LabelError, parse_labels
from classifier.text.labels import MAX_INPUT_CHARS


def test_commas_and_newlines_trimmed_and_deduplicated() -> None:
    assert parse_labels(" cat, Dog\nfox ,, CAT,\n dog ") == ("cat", "Dog", "fox")


def test_inner_whitespace_is_folded() -> None:
    assert parse_labels("polar   bear, red\tfox") == ("polar bear", "red fox")


def test_at_least_two_labels() -> None:
    with pytest.raises(LabelError, match="at least 2"):
        parse_labels("cat, cat, , CAT")


def test_at_most_fifty_labels() -> None:
    parse_labels(", ".join(f"l{i}" for i in range(MAX_LABELS)))
    with pytest.raises(LabelError, match="51 labels; the limit is 50"):
        parse_labels(", ".join(f"l{i}" for i in range(MAX_LABELS + 1)))


def test_label_length_limit_names_the_label() -> None:
    parse_labels("cat, " + "x" * MAX_LABEL_CHARS)
    with pytest.raises(LabelError, match=r"'xxxxxxxxxxxxxxxxxxx…' is 61 characters; the limit is 60"):
        parse_labels("cat, " + "x" * (MAX_LABEL_CHARS + 1))


def test_huge_input_is_refused_before_splitting() -> None:
    with pytest.raises(LabelError, match="10000 characters long"):
        parse_labels("a" * 10_000)


def test_control_characters_are_refused() -> None:
    with pytest.raises(LabelError, match="control character"):
        parse_labels("cat, do\x00g")


def test_markup_emoji_and_right_to_left_are_kept_literally() -> None:
    labels = parse_labels("<b>cat</b>, fox & dog, 🦊, \u200fقطة\u200f, snake_case*")
    assert labels == ("<b>cat</b>", "fox & dog", "🦊", "قطة", "snake_case*")


def test_every_refusal_is_one_whole_sentence() -> None:
    cases = {
        "a" * 3101: "That list is 3101 characters long; the limit is 3100.",
        "cat, abcdefghijklmnop\x07": "Label 'abcdefghijklmnop\\x07' contains a control character.",
        "cat, abcdefghijklmnopq\x07": "Label 'abcdefghijklmnopq\\x…' contains a control character.",
        "cat, " + "y" * 61: "Label 'yyyyyyyyyyyyyyyyyyy…' is 61 characters; the limit is 60.",
        "cat": "Give at least 2 different labels, separated by commas.",
        ", ".join(f"l{i}" for i in range(51)): "That is 51 labels; the limit is 50.",
    }
    for text, message in cases.items():
        with pytest.raises(LabelError) as refused:
            parse_labels(text)
        assert str(refused.value) == message


def test_the_input_limit_is_inclusive() -> None:
    assert parse_labels("cat, dog" + " " * (MAX_INPUT_CHARS - 8)) == ("cat", "dog")


def test_empty_and_repeated_labels_in_the_middle_are_skipped() -> None:
    assert parse_labels("cat,, ,dog, CAT, fox\n\nowl") == ("cat", "dog", "fox", "owl")
    assert parse_labels("\u200bcat\u200f, dog\u2069") == ("cat", "dog")  # invisible marks trimmed from the ends
