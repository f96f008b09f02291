"""Remediation (khắc phục) of shortcomings found by an inspection: due dates and rates.

Pure functions, no I/O. A conclusion gives each shortcoming (tồn tại, hạn chế) a fix due
`DEFAULT_FIX_DAYS` calendar days after the conclusion, unless the leader sets another
date. As with legal time limits (Bộ luật Dân sự 2015, điều 148), a limit whose last day
is a weekend or a public holiday ends on the next working day instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.formats.campaign_spec import ReminderPolicy
from storage.rules.timing import is_working_day

DEFAULT_FIX_DAYS = 15


def fix_due_date(concluded: date, days: int = DEFAULT_FIX_DAYS) -> date:
    """The day a fix is due: `days` after the conclusion, moved off weekends and holidays."""
    due = concluded + timedelta(days=days)
    while not is_working_day(due):
        due += timedelta(days=1)
    return due


def remediation_rate(fixed: int, total: int) -> float | None:
    """Share of shortcomings fixed, as a percentage (the answer of an item such as 1.5
    "Tỷ lệ tồn tại, hạn chế ... đã khắc phục"); None when there was nothing to fix."""
    if total <= 0:
        return None
    return round(100.0 * min(fixed, total) / total, 2)


# A fix due on a day is due by the end of that office day, in the campaign's timezone.
FIX_DUE_AT = time(17, 0)
# Reminders of fixes follow the campaign's reminder policy (quiet hours, working days,
# offsets); a campaign without offsets or overdue repeats gets these.
FIX_REMINDERS = (timedelta(days=3), timedelta(days=1))
FIX_OVERDUE_EVERY = timedelta(days=3)


def fix_deadline(due_on: date, tz: str) -> datetime:
    """The instant (UTC) a fix due on `due_on` is late after."""
    return datetime.combine(due_on, FIX_DUE_AT, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def fix_policy(policy: ReminderPolicy) -> ReminderPolicy:
    return replace(
        policy,
        reminders=policy.reminders or FIX_REMINDERS,
        overdue_every=policy.overdue_every or FIX_OVERDUE_EVERY,
    )
