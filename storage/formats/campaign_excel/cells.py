"""What Excel puts in a cell -> the value the YAML file would hold there.

Excel stores every number as a float, turns a typed "08:00" into a time and "1.1" into a
number, and keeps a date as a midnight date-time; each column's `Kind` says how its cells
are taken back. A value of the wrong kind is passed on as it is, for the document's checks
to report at its cell.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, time
from typing import Any

from openpyxl.cell.cell import Cell, MergedCell

from storage.formats.campaign_excel.layout import Kind

AnyCell = Cell | MergedCell  # the hidden cells of a merged range are MergedCells


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_value(cell: AnyCell, kind: Kind) -> Any:
    """A cell as the document holds the value; None when empty (the default applies)."""
    raw = cell.value
    if is_empty(raw):
        return None
    if isinstance(raw, str):
        raw = raw.strip()
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # Excel stores every number as a float: 2.0 is the count 2
    return _CONVERTERS.get(kind, _as_is)(raw, cell)


def _as_is(raw: Any, cell: AnyCell) -> Any:
    return raw


def _text(raw: Any, cell: AnyCell) -> Any:
    if isinstance(raw, time):  # Excel turns a typed "08:00" into a time of day
        return raw.strftime("%H:%M")
    return raw


def _code(raw: Any, cell: AnyCell) -> Any:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return str(raw)  # "1.1" typed into a General cell became the number 1.1
    return raw


def _integer(raw: Any, cell: AnyCell) -> Any:
    if isinstance(raw, str) and raw.isdigit():
        return int(raw)  # typed into a Text cell
    return raw


def _datetime(raw: Any, cell: AnyCell) -> Any:
    """A date cell without a time in its format is a date (23:59 as a deadline), not
    midnight: Excel stores both as a date-time."""
    if isinstance(raw, datetime) and raw.time() == time() and not _shows_time(cell):
        return raw.date()
    return raw


def _shows_time(cell: AnyCell) -> bool:
    visible = re.sub(r'"[^"]*"|\[[^\]]*\]', "", cell.number_format or "")  # drop literals
    return "h" in visible.lower()


def _options(raw: Any, cell: AnyCell) -> Any:
    return _split(raw, ";\n")  # an option may contain a comma


def _durations(raw: Any, cell: AnyCell) -> Any:
    return _split(raw, ";,\n")


def _split(raw: Any, separators: str) -> list[Any]:
    if not isinstance(raw, str):
        return [raw]
    parts = re.split(f"[{re.escape(separators)}]", raw)
    return [part.strip() for part in parts if part.strip()]


_CONVERTERS: dict[Kind, Callable[[Any, AnyCell], Any]] = {
    Kind.TEXT: _text,
    Kind.CODE: _code,
    Kind.INTEGER: _integer,
    Kind.DATETIME: _datetime,
    Kind.OPTIONS: _options,
    Kind.DURATIONS: _durations,
}
