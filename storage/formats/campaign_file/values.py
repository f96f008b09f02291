"""Scalar values of a campaign document: each reader returns the value, or None after
recording why not at the value's place.

YAML 1.2 and Excel hand over values in their own ways (1.1 read as a float, yes/no left as
text, a count typed as "3"); these readers accept what an admin meant and refuse the rest.
The timing settings (durations, quiet hours, summary schedules) are read by their one
parser, storage/rules/timing_forms.py, whose errors become problems here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TypeVar

from storage.formats.campaign_file.datetimes import parse_local_datetime
from storage.formats.campaign_file.nodes import Doc, Value
from storage.rules.answers import DATE_MAX_YEAR, DATE_MIN_YEAR, fold, parse_number
from storage.rules.timing_forms import (
    TimingFormError,
    parse_duration,
    parse_quiet_hours,
    parse_summary_at,
)

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
MAX_INVITES = 50  # per unit or team and kind: more is a typo, not a real team
_TRUE = {"true", "yes", "on", "co"}
_FALSE = {"false", "no", "off", "khong"}


# --- text and codes -----------------------------------------------------------------------------


def text(doc: Doc, value: Value, *, allow_empty: bool = False) -> str | None:
    raw = value.raw
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        doc.add("expected_text", value.where, value.line)
        return None
    found = raw.strip() if isinstance(raw, str) else _as_typed(doc, value)
    if not found and not allow_empty:
        doc.add("empty_text", value.where, value.line)
        return None
    return found


def text_or_empty(doc: Doc, value: Value) -> str | None:
    return text(doc, value, allow_empty=True)


def _as_typed(doc: Doc, value: Value) -> str:
    if value.line is None or value.col is None:
        return str(value.raw)
    return doc.token(value.line - 1, value.col) or str(value.raw)


def code(doc: Doc, value: Value) -> str | None:
    """A code as text. YAML reads 1.1 as a float: take the text as typed, and refuse 1.10,
    which YAML has already turned into 1.1 (the admin must quote it)."""
    raw = value.raw
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        doc.add("expected_text", value.where, value.line)
        return None
    if isinstance(raw, str):
        found = raw.strip()
    else:
        found = _as_typed(doc, value)
        canonical = str(int(raw)) if isinstance(raw, int) else repr(float(raw))
        if found != canonical:
            doc.add("ambiguous_code", value.where, value.line, value=found)
            return None
    if not CODE_PATTERN.fullmatch(found):
        doc.add("bad_code", value.where, value.line, value=found)
        return None
    return found


# --- numbers ------------------------------------------------------------------------------------


def integer(doc: Doc, value: Value) -> int | None:
    if isinstance(value.raw, int) and not isinstance(value.raw, bool):
        return int(value.raw)
    doc.add("expected_integer", value.where, value.line)
    return None


def bounded(doc: Doc, value: Value, minimum: int, maximum: int | None) -> int | None:
    """An integer from `minimum` to `maximum` (None: no upper bound)."""
    number = integer(doc, value)
    if number is None:
        return None
    if number < minimum:
        problem = "not_positive" if minimum > 0 else "negative"
        doc.add(problem, value.where, value.line, value=number)
        return None
    if maximum is not None and number > maximum:
        doc.add("too_many", value.where, value.line, value=number, max=maximum)
        return None
    return number


def invite_count(doc: Doc, value: Value | None, default: int, *, minimum: int) -> int | None:
    """An invite count: an integer from `minimum` (0 or 1) to MAX_INVITES."""
    if value is None:
        return default
    return bounded(doc, value, minimum, MAX_INVITES)


def count_or(
    doc: Doc, value: Value | None, default: T, *, minimum: int = 0, maximum: int | None = 1000
) -> int | T:
    """A plain integer setting (overdue_limit, max_length); `default` when absent or wrong."""
    if value is None:
        return default
    number = bounded(doc, value, minimum, maximum)
    return default if number is None else number


def number(doc: Doc, value: Value) -> float | None:
    raw = value.raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    parsed = parse_number(raw) if isinstance(raw, str) else None  # "1,5" typed the VN way
    if parsed is None:
        doc.add("expected_number", value.where, value.line)
        return None
    return float(parsed)


# --- words --------------------------------------------------------------------------------------


def boolean(doc: Doc, value: Value | None, default: bool) -> bool | None:
    """true/false; also yes/no and có/không, which YAML 1.2 leaves as text."""
    if value is None:
        return default
    if isinstance(value.raw, bool):
        return value.raw
    word = fold(value.raw) if isinstance(value.raw, str) else ""
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    doc.add("expected_bool", value.where, value.line)
    return None


def choice(doc: Doc, value: Value, enum: type[E], problem: str) -> E | None:
    """An enum value; "Trực tiếp" or "TRUC TIEP" also mean truc-tiep."""
    word = fold(str(value.raw)).replace(" ", "-") if isinstance(value.raw, str) else ""
    try:
        return enum(word)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        doc.add(problem, value.where, value.line, value=str(value.raw), allowed=allowed)
        return None


# --- times --------------------------------------------------------------------------------------


def local_datetime(
    doc: Doc, value: Value, zone: tzinfo, *, need_time: bool = False
) -> datetime | None:
    """A local date-time of the file as aware UTC."""
    found = parse_local_datetime(value.raw, zone)
    if found is None or not DATE_MIN_YEAR <= found[0].year <= DATE_MAX_YEAR:
        doc.add("bad_datetime", value.where, value.line, value=str(value.raw))
        return None
    moment, has_time = found
    if need_time and not has_time:
        doc.add("visit_needs_time", value.where, value.line)
        return None
    return moment.astimezone(UTC)


def _timing(doc: Doc, value: Value, parse: Callable[[str], T], not_text: str) -> T | None:
    """A timing setting read by its one parser; its error becomes a problem here, and a
    value that is not text (a number, a list) is `not_text`."""
    if not isinstance(value.raw, str):
        doc.add(not_text, value.where, value.line, value=str(value.raw))
        return None
    try:
        return parse(value.raw)
    except TimingFormError as error:
        doc.add(error.code, value.where, value.line, **error.params)
        return None


def duration(doc: Doc, value: Value) -> timedelta | None:
    return _timing(doc, value, parse_duration, "bad_duration")


def quiet_hours(doc: Doc, value: Value) -> tuple[time, time] | None:
    return _timing(doc, value, parse_quiet_hours, "bad_quiet_hours")


def summary_at(doc: Doc, value: Value) -> str | None:
    """The schedule's canonical text, as the policy stores it and the scheduler reads it."""
    schedule = _timing(doc, value, parse_summary_at, "bad_summary_at")
    return None if schedule is None else str(schedule)
