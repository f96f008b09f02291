"""People see local time as dd/mm/yyyy HH:MM; the database keeps aware UTC."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Ho_Chi_Minh"


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_TZ)


def fmt_datetime(value: datetime | None, tz: str | None = None) -> str:
    if value is None:
        return ""
    return value.astimezone(zone(tz)).strftime("%d/%m/%Y %H:%M")


def fmt_date(value: date | datetime | None, tz: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(zone(tz)).date()
    return value.strftime("%d/%m/%Y")


def parse_local(text: str, tz: str | None = None) -> datetime:
    """ "dd/mm/yyyy HH:MM" typed by a person, in their timezone -> aware datetime."""
    naive = datetime.strptime(text.strip(), "%d/%m/%Y %H:%M")  # noqa: DTZ007 (zone added next)
    return naive.replace(tzinfo=zone(tz))
