"""Answer rules: typed input as Vietnamese officers type it, values from buttons, display."""

from __future__ import annotations

from typing import Any

import pytest

from common.i18n import Catalog
from storage.formats.campaign_spec import ItemSpec, ItemType
from storage.rules.answers import (
    TEXT_MAX_LENGTH,
    AnswerError,
    ParsedAnswer,
    format_value,
    parse_answer,
    parse_number,
    render_error,
    validate_value,
)

ISO_OPTIONS = ("Đã áp dụng", "Đang xây dựng", "Chưa áp dụng")
CHANNELS = ("Cổng thông tin điện tử", "Báo chí", "Mạng xã hội")


def item(kind: ItemType, **kw: Any) -> ItemSpec:
    return ItemSpec(code="x", text="x", type=kind, **kw)


YESNO = item(ItemType.YESNO)
CHOICE = item(ItemType.CHOICE, options=ISO_OPTIONS)
MULTI = item(ItemType.MULTI, options=CHANNELS)
NUMBER = item(ItemType.NUMBER)
COUNT = item(ItemType.NUMBER, min=0, max=500)
AT_LEAST_ZERO = item(ItemType.NUMBER, min=0)
PERCENT = item(ItemType.PERCENT)
DATE = item(ItemType.DATE)
TEXT = item(ItemType.TEXT)
SHORT_TEXT = item(ItemType.TEXT, max_length=10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", 12),
        ("12,5", 12.5),  # Vietnamese decimal comma
        ("12.5", 12.5),  # phone keyboards: a dot that cannot be thousands is decimal
        ("1.234", 1234),  # Vietnamese thousands separator
        ("12.500.000", 12_500_000),
        ("1,5", 1.5),
        ("1,234", 1.234),  # a single comma is always decimal
        ("1.234,5", 1234.5),
        ("1,234.5", 1234.5),
        ("1,234,567", 1_234_567),
        ("1 234 567", 1_234_567),
        ("0.750", 0.75),  # leading zero: not a thousands group
        ("-3", -3),
        ("+7", 7),
        ("12,0", 12),
        ("abc", None),
        ("12 tin", None),
        ("1.2.3", None),
        ("1.23.456", None),
        ("1.234,5,6", None),
        (",5", None),
        ("5.", None),
        ("12 5", None),
        ("", None),
    ],
)
def test_parse_number(raw: str, expected: float | None) -> None:
    assert parse_number(raw) == expected


@pytest.mark.parametrize(
    ("spec", "raw", "expected"),
    [
        # yes/no typed (Zalo has no buttons)
        (YESNO, "Có", True),
        (YESNO, "co", True),
        (YESNO, " KHÔNG ", False),
        (YESNO, "ko", False),
        (YESNO, "1", True),
        (YESNO, "2", False),
        # choice by number or by text without accents
        (CHOICE, "1", "Đã áp dụng"),
        (CHOICE, "dang xay dung", "Đang xây dựng"),
        (CHOICE, "  Chưa áp dụng ", "Chưa áp dụng"),
        # multi by numbers, in the item's order, no duplicates
        (MULTI, "3, 1", ["Cổng thông tin điện tử", "Mạng xã hội"]),
        (MULTI, "1 2 2", ["Cổng thông tin điện tử", "Báo chí"]),
        (MULTI, "bao chi; mang xa hoi", ["Báo chí", "Mạng xã hội"]),
        (MULTI, "Báo chí", ["Báo chí"]),
        (MULTI, "0", []),
        # numbers
        (NUMBER, "12", 12),
        (NUMBER, "1.234", 1234),
        (NUMBER, "12,5", 12.5),
        (COUNT, "0", 0),
        (COUNT, "500", 500),
        # percent
        (PERCENT, "95", 95),
        (PERCENT, "  95 % ", 95),
        (PERCENT, "99,57%", 99.57),
        (PERCENT, "95.125", 95.125),  # never thousands in a percentage
        (PERCENT, "0", 0),
        (PERCENT, "100%", 100),
        # dates
        (DATE, "31/12/2020", "2020-12-31"),
        (DATE, "1/3/2021", "2021-03-01"),
        (DATE, "31-12-2020", "2020-12-31"),
        (DATE, "31.12.2020", "2020-12-31"),
        (DATE, "31/12/20", "2020-12-31"),
        (DATE, "2020-12-31", "2020-12-31"),
        (DATE, "ngày 5 tháng 3 năm 2021", "2021-03-05"),
        (DATE, "29/02/2020", "2020-02-29"),
        # text
        (TEXT, "  Thiếu kinh phí số hóa  ", "Thiếu kinh phí số hóa"),
        (TEXT, "x" * TEXT_MAX_LENGTH, "x" * TEXT_MAX_LENGTH),
        (SHORT_TEXT, "0123456789", "0123456789"),
    ],
)
def test_parse_answer_valid(spec: ItemSpec, raw: str, expected: Any) -> None:
    result = parse_answer(spec, raw)
    assert result == ParsedAnswer(expected)
    assert type(result.value) is type(expected)  # 12 stays an int, True a bool
    assert validate_value(spec, result.value) is None


@pytest.mark.parametrize(
    ("spec", "raw", "code", "params"),
    [
        (NUMBER, "   ", "empty", {}),
        (YESNO, "có lẽ", "not_yes_no", {}),
        (CHOICE, "4", "not_an_option", {"count": 3}),
        (CHOICE, "Khác", "not_an_option", {"count": 3}),
        (CHOICE, "²", "not_an_option", {"count": 3}),  # isdigit() but not a number typed
        (MULTI, "1, 9", "not_options", {"count": 3}),
        (MULTI, "báo chí, radio", "not_options", {"count": 3}),
        (NUMBER, "mười hai", "not_a_number", {}),
        (NUMBER, "12 tin", "not_a_number", {}),
        (NUMBER, "١٢", "not_a_number", {}),  # ASCII digits only
        (AT_LEAST_ZERO, "-1", "below_min", {"min": 0}),
        (item(ItemType.NUMBER, max=10), "11", "above_max", {"max": 10}),
        (COUNT, "501", "out_of_range", {"min": 0, "max": 500}),
        (PERCENT, "95 phần trăm", "not_a_percent", {}),
        (PERCENT, "101", "percent_range", {}),
        (PERCENT, "-5%", "percent_range", {}),
        (DATE, "hôm qua", "not_a_date", {}),
        (DATE, "31/02/2021", "impossible_date", {"value": "31/02/2021"}),
        (DATE, "29/02/2021", "impossible_date", {"value": "29/02/2021"}),
        (DATE, "12/13/2021", "impossible_date", {"value": "12/13/2021"}),
        (DATE, "31/12/0202", "year_out_of_range", {"min_year": 1980, "max_year": 2099}),
        (DATE, "31/12/1900", "year_out_of_range", {"min_year": 1980, "max_year": 2099}),
        (DATE, "31/12/20211", "not_a_date", {}),
        (TEXT, "x" * (TEXT_MAX_LENGTH + 1), "text_too_long", {"max": 2000, "length": 2001}),
        (SHORT_TEXT, "01234567890", "text_too_long", {"max": 10, "length": 11}),
    ],
)
def test_parse_answer_invalid(spec: ItemSpec, raw: str, code: str, params: dict[str, Any]) -> None:
    assert parse_answer(spec, raw) == AnswerError(code, params)


@pytest.mark.parametrize(
    ("spec", "value", "code"),
    [
        (YESNO, True, None),
        (YESNO, False, None),
        (YESNO, "yes", "wrong_type"),
        (YESNO, 1, "wrong_type"),
        (CHOICE, "Đang xây dựng", None),
        (CHOICE, "đang xây dựng", "not_an_option"),  # buttons send the option exactly
        (CHOICE, 1, "wrong_type"),
        (MULTI, [], None),
        (MULTI, ["Báo chí", "Mạng xã hội"], None),
        (MULTI, ["Báo chí", "Báo chí"], "not_options"),
        (MULTI, ["Radio"], "not_options"),
        (MULTI, "Báo chí", "wrong_type"),
        (MULTI, [1], "wrong_type"),
        (NUMBER, 12, None),
        (NUMBER, -12.5, None),
        (NUMBER, True, "wrong_type"),  # a bool is an int in Python, not a count
        (NUMBER, "12", "wrong_type"),
        (NUMBER, float("nan"), "wrong_type"),
        (COUNT, 501, "out_of_range"),
        (PERCENT, 99.5, None),
        (PERCENT, 100.01, "percent_range"),
        (PERCENT, None, "wrong_type"),
        (DATE, "2020-12-31", None),
        (DATE, "2021-02-31", "impossible_date"),
        (DATE, "31/12/2020", "wrong_type"),
        (DATE, "1970-01-01", "year_out_of_range"),
        (TEXT, "Ổn", None),
        (TEXT, "  ", "empty"),
        (TEXT, 5, "wrong_type"),
        (SHORT_TEXT, "x" * 11, "text_too_long"),
    ],
)
def test_validate_value(spec: ItemSpec, value: object, code: str | None) -> None:
    error = validate_value(spec, value)
    assert (error.code if error else None) == code


def test_error_key_is_in_the_answers_namespace() -> None:
    assert AnswerError("not_a_date").key == "answers.error.not_a_date"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.mark.parametrize(
    ("spec", "value", "vi", "en"),
    [
        (YESNO, True, "Có", "Yes"),
        (YESNO, False, "Không", "No"),
        (YESNO, None, "(chưa trả lời)", "(not answered)"),
        (CHOICE, "Đã áp dụng", "Đã áp dụng", "Đã áp dụng"),
        (MULTI, ["Báo chí", "Mạng xã hội"], "Báo chí; Mạng xã hội", "Báo chí; Mạng xã hội"),
        (MULTI, [], "(không chọn phương án nào)", "(no option chosen)"),
        (NUMBER, 1234, "1.234", "1,234"),
        (NUMBER, 1234.5, "1.234,5", "1,234.5"),
        (NUMBER, 12_500_000, "12.500.000", "12,500,000"),
        (NUMBER, -0.25, "-0,25", "-0.25"),
        (NUMBER, 0, "0", "0"),
        (PERCENT, 95.5, "95,5%", "95.5%"),
        (PERCENT, 100, "100%", "100%"),
        (DATE, "2020-12-31", "31/12/2020", "31/12/2020"),
        (DATE, "2021-03-05", "05/03/2021", "05/03/2021"),
        (TEXT, "Thiếu kinh phí", "Thiếu kinh phí", "Thiếu kinh phí"),
    ],
)
def test_format_value(catalog: Catalog, spec: ItemSpec, value: object, vi: str, en: str) -> None:
    assert format_value(spec, value, catalog.for_locale("vi")) == vi
    assert format_value(spec, value, catalog.for_locale("en")) == en


def test_typed_answer_round_trips_through_display(catalog: Catalog) -> None:
    tr = catalog.for_locale("vi")
    for spec, raw in [(NUMBER, "1.234,5"), (PERCENT, "99,57%"), (DATE, "1/3/2021")]:
        parsed = parse_answer(spec, raw)
        assert isinstance(parsed, ParsedAnswer)
        assert parse_answer(spec, format_value(spec, parsed.value, tr)) == parsed


def test_render_error_writes_numbers_the_readers_way(catalog: Catalog) -> None:
    error = validate_value(item(ItemType.NUMBER, min=0.5, max=1500), 2000)
    assert error is not None
    vi, en = catalog.for_locale("vi"), catalog.for_locale("en")
    assert render_error(error, vi) == "Số phải trong khoảng từ 0,5 đến 1.500."
    assert render_error(error, en) == "The number must be between 0.5 and 1,500."
