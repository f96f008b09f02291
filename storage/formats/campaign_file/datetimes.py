"""The date-times a campaign file may hold: deadlines and visits, local to its timezone.

A bare date means the end of that day (23:59 local): "by 30/09" includes the 30th.
No wall clock is read here.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo
from typing import Any

END_OF_DAY = time(23, 59)

_ISO_DT = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?")
_VN_DT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2})[:h](\d{2}))?")


def parse_local_datetime(raw: Any, zone: tzinfo) -> tuple[datetime, bool] | None:
    """A date-time of the file, aware in `zone` (or in the offset the file gave), and
    whether it had a time of day. A bare date is the end of that day (23:59).

    Accepts what YAML made of it (date, datetime) and the texts "2021-09-30 17:00",
    "2021-09-30T17:00", "2021-09-30 17:00:00", "2021-09-30", "30/09/2021 17:00",
    "30/09/2021"; "17h00" for "17:00" too.
    """
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=zone)), True
    if isinstance(raw, date):
        return datetime.combine(raw, END_OF_DAY, tzinfo=zone), False
    parts = _datetime_parts(raw.strip()) if isinstance(raw, str) else None
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts
    try:
        day_of = date(year, month, day)
        if hour is None:
            return datetime.combine(day_of, END_OF_DAY, tzinfo=zone), False
        return datetime.combine(day_of, time(hour, minute or 0, second or 0), tzinfo=zone), True
    except ValueError:
        return None  # 31/02, 25:00


def _datetime_parts(text: str) -> tuple[int, int, int, int | None, int | None, int | None] | None:
    if m := _ISO_DT.fullmatch(text):
        year, month, day, hour, minute, second = m.groups()
    elif m := _VN_DT.fullmatch(text):
        day, month, year, hour, minute = m.groups()
        second = None
    else:
        return None

    def maybe(part: str | None) -> int | None:
        return int(part) if part else None

    return int(year), int(month), int(day), maybe(hour), maybe(minute), maybe(second)
