"""A web form's fields as the chat would have them typed (storage/rules/form_answers.py)."""

from __future__ import annotations

import pytest

from storage.rules.answers import AnswerError, ParsedAnswer
from storage.rules.form_answers import form_text, option_number, read_form
from tests import factories

ITEMS = {spec.code: spec for spec in factories.items()}


@pytest.mark.parametrize(
    ("item_type", "values", "typed"),
    [
        ("multi", ["1", "3"], "1, 3"),
        ("multi", [], "0"),  # nothing ticked: none of them
        ("multi", [" ", "2"], "2"),
        ("yesno", ["1"], "1"),
        ("choice", [], ""),  # nothing picked: empty, refused as in chat
        ("text", ["Đề nghị", "ignored"], "Đề nghị"),
        ("date", ["31/12/2020"], "31/12/2020"),
    ],
)
def test_form_text(item_type: str, values: list[str], typed: str) -> None:
    assert form_text(item_type, values) == typed


@pytest.mark.parametrize(
    ("code", "values", "expected"),
    [
        ("1.2", ["1"], True),
        ("1.2", ["2"], False),
        ("7.3", [option_number(2)], "Chưa"),
        ("7.4", ["3", "1"], ["Một cửa điện tử", "Chữ ký số"]),  # the item's order
        ("7.4", [], []),
        ("1.3", ["96,5"], 96.5),
        ("1.1", ["31/12/2020"], "2020-12-31"),
        ("1.2", [], "empty"),
        ("7.3", ["4"], "not_an_option"),
        ("5.2", ["-1"], "below_min"),
    ],
)
def test_read_form(code: str, values: list[str], expected: object) -> None:
    result = read_form(ITEMS[code], values)
    if isinstance(result, AnswerError):
        assert result.code == expected
    else:
        assert isinstance(result, ParsedAnswer) and result.value == expected
