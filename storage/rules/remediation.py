"""Remediation (khắc phục) of shortcomings found by an inspection: due dates and rates.

Pure functions, no I/O. A conclusion gives each shortcoming (tồn tại, hạn chế) a fix due
`DEFAULT_FIX_DAYS` calendar days after the conclusion, unless the leader sets another
date. As with legal time limits (Bộ luật Dân sự 2015, điều 148), a limit whose last day
is a weekend or a public holiday ends on the next working day instead.
"""

from __future__ import annotations

from datetime import date, timedelta

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
