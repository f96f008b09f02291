"""Answers to checklist items: read what a person typed, check a value, show it back.

Pure functions, no I/O. Every layer calls them: the conversation (typed input and pressed
buttons), the web sandbox, the Excel import of answers, the scoring.

Stored values are JSON-able, one shape per item type:

| type    | value                                  |
|---------|----------------------------------------|
| yesno   | bool                                   |
| choice  | str, one of the item's options         |
| multi   | list[str], options in the item's order (may be empty: "none of them") |
| number  | int (when whole) or float              |
| percent | int or float, 0-100                    |
| date    | str, ISO "YYYY-MM-DD"                  |
| text    | str, stripped, NFC, at most TEXT_MAX_LENGTH (or the item's max_length) |

Numbers, as Vietnamese officers type them (see `parse_number`):

* the comma is the decimal mark: "12,5" = 12.5, "1,234" = 1.234;
* a dot is a thousands separator only where it cannot be anything else: "1.234" = 1234 and
  "12.500.000" = 12500000 (one to three leading digits, not starting with 0, then groups of
  exactly three); any other single dot is a decimal mark, as phone keyboards make people
  type it: "12.5" = 12.5, "0.750" = 0.75;
* in a percentage a dot is always decimal ("95.125" = 95.125): nobody writes 1.000%;
* when both marks appear, the last one is the decimal mark: "1.234,5" = "1,234.5" = 1234.5;
* spaces may group thousands ("1 234 567"); a leading sign is allowed.

Errors are `AnswerError(code, params)`; the text is the catalog key `answers.error.<code>`,
rendered in the person's language by `render_error`.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from storage.formats.campaign_spec import ItemType

TEXT_MAX_LENGTH = 2000
# Dates outside these years are typing mistakes (0202, 20211), not answers about CCHC work.
DATE_MIN_YEAR = 1980
DATE_MAX_YEAR = 2099

AnswerValue = bool | int | float | str | list[str]

# Every error code and the params its catalog text uses (checked by tests/test_locales.py).
ERROR_PARAMS: dict[str, tuple[str, ...]] = {
    "empty": (),
    "wrong_type": (),
    "not_yes_no": (),
    "not_an_option": ("count",),
    "not_options": ("count",),
    "not_a_number": (),
    "below_min": ("min",),
    "above_max": ("max",),
    "out_of_range": ("min", "max"),
    "not_a_percent": (),
    "percent_range": (),
    "not_a_date": (),
    "impossible_date": ("value",),
    "year_out_of_range": ("min_year", "max_year"),
    "text_too_long": ("max", "length"),
}


class AnswerItem(Protocol):
    """What answer rules need of an item: an ItemSpec or an ORM row both fit."""

    @property
    def type(self) -> str: ...
    @property
    def options(self) -> Sequence[str] | None: ...
    @property
    def min(self) -> float | None: ...
    @property
    def max(self) -> float | None: ...
    @property
    def max_length(self) -> int | None: ...


class Translate(Protocol):
    """`common.i18n.Translator` or anything shaped like it (storage never imports bot)."""

    def __call__(self, key: str, /, **params: Any) -> str: ...


@dataclass(frozen=True)
class ParsedAnswer:
    value: AnswerValue


@dataclass(frozen=True)
class AnswerError:
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"answers.error.{self.code}"


def _error(code: str, **params: Any) -> AnswerError:
    assert set(params) == set(ERROR_PARAMS[code]), code  # keeps the catalog test honest
    return AnswerError(code, params)


# --- reading typed input ---------------------------------------------------------------


def parse_answer(item: AnswerItem, raw: str) -> ParsedAnswer | AnswerError:
    """Read a typed answer. Buttons send values directly; check those with validate_value.

    yes/no, choice and multi are read too, because Zalo has no buttons: "có"/"không" (or
    1/2), an option's number or its text, several numbers for multi ("1, 3"; "0" = none).
    """
    text = unicodedata.normalize("NFC", raw).strip()
    if not text:
        return _error("empty")
    kind = ItemType(item.type)
    if kind is ItemType.TEXT:
        return _parse_text(item, text)
    readers = {
        ItemType.YESNO: _parse_yesno,
        ItemType.CHOICE: _parse_choice,
        ItemType.MULTI: _parse_multi,
        ItemType.NUMBER: _parse_number_answer,
        ItemType.PERCENT: _parse_percent_answer,
        ItemType.DATE: _parse_date_answer,
    }
    result = readers[kind](item, text)
    if isinstance(result, AnswerError):
        return result
    problem = validate_value(item, result)
    return problem if problem else ParsedAnswer(result)


_YES = {"co", "c", "yes", "y", "dung", "roi", "da", "x", "ok", "1"}
_NO = {"khong", "k", "ko", "kg", "no", "n", "chua", "sai", "2"}


def _parse_yesno(item: AnswerItem, text: str) -> AnswerValue | AnswerError:
    word = fold(text).rstrip(".!")
    if word in _YES:
        return True
    if word in _NO:
        return False
    return _error("not_yes_no")


def _parse_choice(item: AnswerItem, text: str) -> AnswerValue | AnswerError:
    options = list(item.options or ())
    picked = _option_by_number_or_text(options, text)
    return picked if picked is not None else _error("not_an_option", count=len(options))


def _parse_multi(item: AnswerItem, text: str) -> AnswerValue | AnswerError:
    options = list(item.options or ())
    if fold(text) in {"0", "khong"}:
        return []
    whole = _option_by_number_or_text(options, text)
    if whole is not None:
        return [whole]
    # option texts may contain spaces, so try commas/semicolons first, then "1 3 4"
    chosen = _pick_all(options, re.split(r"[,;]", text))
    if chosen is None:
        chosen = _pick_all(options, re.split(r"[,;\s]+", text))
    if not chosen:
        return _error("not_options", count=len(options))
    return [o for o in options if o in chosen]  # the item's order, no duplicates


def _pick_all(options: list[str], parts: list[str]) -> set[str] | None:
    """The options named by every part (number or text); None if one part names none."""
    picked: set[str] = set()
    for part in filter(str.strip, parts):
        option = _option_by_number_or_text(options, part)
        if option is None:
            return None
        picked.add(option)
    return picked


def _option_by_number_or_text(options: list[str], text: str) -> str | None:
    token = text.strip().rstrip(".")
    if re.fullmatch("[0-9]+", token):
        index = int(token) - 1
        return options[index] if 0 <= index < len(options) else None
    wanted = fold(token)
    for option in options:
        if fold(option) == wanted:
            return option
    return None


def fold(text: str) -> str:
    """Lowercase, no diacritics, single spaces: "Đã  áp dụng" -> "da ap dung".

    People type on phones without Vietnamese input, so matching ignores the marks.
    """
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.split())


def _parse_number_answer(item: AnswerItem, text: str) -> AnswerValue | AnswerError:
    number = parse_number(text)
    return _error("not_a_number") if number is None else number


def _parse_percent_answer(item: AnswerItem, text: str) -> AnswerValue | AnswerError:
    number = parse_percent(text)
    return _error("not_a_percent") if number is None else number


def _parse_date_answer(item: AnswerItem, text: str) -> AnswerValue | AnswerError:
    parts = split_date(text)
    if parts is None:
        return _error("not_a_date")
    return _checked_date(*parts, shown=text)


def _parse_text(item: AnswerItem, text: str) -> ParsedAnswer | AnswerError:
    problem = validate_value(item, text)
    return problem if problem else ParsedAnswer(text)


_GROUPED_SPACES = re.compile(r"[+-]?[0-9]{1,3}(?: [0-9]{3})+(?:[.,][0-9]+)?")


def parse_number(text: str, *, dot_may_group: bool = True) -> int | float | None:
    """A number as typed in Vietnam (rules in the module docstring); None if it is not one.

    `dot_may_group=False` reads a single dot as decimal (used for percentages).
    """
    s = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    if " " in s:
        if not _GROUPED_SPACES.fullmatch(s):
            return None
        s = s.replace(" ", "")
    sign = -1 if s.startswith("-") else 1
    body = s[1:] if s[:1] in "+-" else s
    if not re.fullmatch(r"[0-9](?:.*[0-9])?", body):
        return None
    digits = _canonical_digits(body, dot_may_group)
    if digits is None:
        return None
    value = sign * float(digits)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _canonical_digits(body: str, dot_may_group: bool) -> str | None:
    """Rewrite "1.234,5" style text as "1234.5"; None when the marks make no sense."""
    if not re.fullmatch(r"[0-9.,]+", body):
        return None
    dots, commas = body.count("."), body.count(",")
    if dots and commas:
        decimal = "," if body.rfind(",") > body.rfind(".") else "."
        group = "." if decimal == "," else ","
        whole, _, fraction = body.rpartition(decimal)
        if decimal in whole or not _grouped(whole, group):
            return None
        return whole.replace(group, "") + "." + fraction
    if commas == 1:
        return body.replace(",", ".")
    if commas > 1:
        return body.replace(",", "") if _grouped(body, ",") else None
    if dots > 1:
        return body.replace(".", "") if _grouped(body, ".") else None
    if dots == 1 and dot_may_group and re.fullmatch(r"[1-9][0-9]{0,2}\.[0-9]{3}", body):
        return body.replace(".", "")
    return body


def _grouped(text: str, sep: str) -> bool:
    """Thousands groups: 1-3 leading digits then groups of exactly three."""
    return re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(sep)}[0-9]{{3}})*", text) is not None


def parse_percent(text: str) -> int | float | None:
    """ "95", "95%", "  95 % ", "99,5%" -> the number of percent (not a fraction)."""
    s = text.strip().replace("％", "%")
    if s.endswith("%"):
        s = s[:-1].strip()
    return parse_number(s, dot_may_group=False)


_DMY = re.compile(r"([0-9]{1,2})\s*([/.-])\s*([0-9]{1,2})\s*\2\s*([0-9]{4}|[0-9]{2})")
_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_WORDS = re.compile(r"(?:ngay\s*)?([0-9]{1,2})\s+thang\s+([0-9]{1,2})\s+nam\s+([0-9]{4})")


def split_date(text: str) -> tuple[int, int, int] | None:
    """(day, month, year) from "31/12/2020", "1/3/2021", "31-12-2020", "31.12.2020",
    "31/12/20" (20xx), "2020-12-31" or "ngày 31 tháng 12 năm 2020"; not checked yet."""
    s = fold(text)
    if m := _DMY.fullmatch(s):
        year = int(m[4]) + (2000 if len(m[4]) == 2 else 0)
        return int(m[1]), int(m[3]), year
    if m := _ISO.fullmatch(s):
        return int(m[3]), int(m[2]), int(m[1])
    if m := _WORDS.fullmatch(s):
        return int(m[1]), int(m[2]), int(m[3])
    return None


def _checked_date(day: int, month: int, year: int, *, shown: str) -> str | AnswerError:
    if not DATE_MIN_YEAR <= year <= DATE_MAX_YEAR:
        return _error("year_out_of_range", min_year=DATE_MIN_YEAR, max_year=DATE_MAX_YEAR)
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return _error("impossible_date", value=shown)


# --- checking a value of any origin -----------------------------------------------------


def validate_value(item: AnswerItem, value: object) -> AnswerError | None:
    """Check a value (from a button, a typed answer, an import) against the item; None = ok."""
    kind = ItemType(item.type)
    if kind is ItemType.YESNO:
        return None if isinstance(value, bool) else _error("wrong_type")
    if kind is ItemType.CHOICE:
        return _check_choice(item, value)
    if kind is ItemType.MULTI:
        return _check_multi(item, value)
    if kind is ItemType.NUMBER:
        return _check_number(item, value)
    if kind is ItemType.PERCENT:
        return _check_percent(item, value)
    if kind is ItemType.DATE:
        return _check_date(value)
    return _check_text(item, value)


def _check_choice(item: AnswerItem, value: object) -> AnswerError | None:
    options = list(item.options or ())
    if not isinstance(value, str):
        return _error("wrong_type")
    return None if value in options else _error("not_an_option", count=len(options))


def _check_multi(item: AnswerItem, value: object) -> AnswerError | None:
    options = list(item.options or ())
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return _error("wrong_type")
    if len(set(value)) != len(value) or not set(value) <= set(options):
        return _error("not_options", count=len(options))
    return None


def _is_number(value: object) -> bool:
    # bool is an int in Python; True is not an answer to "how many"
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_number(item: AnswerItem, value: object) -> AnswerError | None:
    if not _is_number(value):
        return _error("wrong_type")
    assert isinstance(value, int | float)
    return _check_range(value, item.min, item.max)


def _check_range(value: float, low: float | None, high: float | None) -> AnswerError | None:
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            return _error("out_of_range", min=low, max=high)
        if low is not None:
            return _error("below_min", min=low)
        return _error("above_max", max=high)
    return None


def _check_percent(item: AnswerItem, value: object) -> AnswerError | None:
    if not _is_number(value):
        return _error("wrong_type")
    assert isinstance(value, int | float)
    if not 0 <= value <= 100:
        return _error("percent_range")
    return _check_range(value, item.min, item.max)


def _check_date(value: object) -> AnswerError | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return _error("wrong_type")
    year, month, day = (int(p) for p in value.split("-"))
    checked = _checked_date(day, month, year, shown=f"{day:02d}/{month:02d}/{year}")
    return checked if isinstance(checked, AnswerError) else None


def _check_text(item: AnswerItem, value: object) -> AnswerError | None:
    if not isinstance(value, str):
        return _error("wrong_type")
    if not value.strip():
        return _error("empty")
    limit = item.max_length or TEXT_MAX_LENGTH
    if len(value) > limit:
        return _error("text_too_long", max=limit, length=len(value))
    return None


# --- showing values back ------------------------------------------------------------------


def format_number(value: float, tr: Translate, *, decimals: int = 4) -> str:
    """1234.5 -> "1.234,5" in Vietnamese, "1,234.5" in English (marks from the catalog)."""
    rounded = round(float(value), decimals)
    text = f"{abs(rounded):,.{decimals}f}".rstrip("0").rstrip(".")
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", tr("answers.number.thousands_sep"))
    sign = "-" if rounded < 0 else ""
    decimal_mark = tr("answers.number.decimal_mark")
    return sign + whole + (decimal_mark + fraction if fraction else "")


def format_value(item: AnswerItem, value: object, tr: Translate) -> str:
    """An answer as a person reads it: "Có", "95,5%", "31/12/2020", "1.234"."""
    if value is None:
        return tr("answers.value.none")
    kind = ItemType(item.type)
    if kind is ItemType.YESNO and isinstance(value, bool):
        return tr("answers.value.yes" if value else "answers.value.no")
    if kind is ItemType.MULTI and isinstance(value, list):
        return "; ".join(map(str, value)) if value else tr("answers.value.none_selected")
    if kind in (ItemType.NUMBER, ItemType.PERCENT) and _is_number(value):
        assert isinstance(value, int | float)
        shown = format_number(value, tr)
        return tr("answers.value.percent", value=shown) if kind is ItemType.PERCENT else shown
    if kind is ItemType.DATE and isinstance(value, str) and _check_date(value) is None:
        year, month, day = value.split("-")
        return tr("answers.value.date", day=day, month=month, year=year)
    return str(value)  # text, choice, or a stored value of an unexpected shape


def render_error(error: AnswerError, tr: Translate) -> str:
    """The error in the person's language, numbers written their way ("1.234,5")."""
    params = {
        name: format_number(v, tr) if _is_number(v) and name in ("min", "max") else v
        for name, v in error.params.items()
    }
    return tr(error.key, **params)
