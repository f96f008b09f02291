"""The numbers behind the leaders' burn-up chart: per day, how many units had submitted and
how many were working on their report; and how many units have answered what share.

Pure (no I/O): the units' instants come from storage/services/progress_history.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Shares answered, as a leader asks: who has not begun, who is under half, who is nearly
# there, who is done. (low, high) in percent, both included.
SHARE_BUCKETS = ((0, 0), (1, 49), (50, 99), (100, 100))


@dataclass(frozen=True)
class Burnup:
    days: list[date]  # from the first day to today
    submitted: list[int]
    in_progress: list[int]  # started, not yet submitted, at the end of that day


def burnup(
    units: Sequence[tuple[datetime | None, datetime | None]],
    *,
    first_day: date,
    today: date,
    tz: ZoneInfo,
) -> Burnup:
    """`units`: (started_at, submitted_at) per unit. A unit that submitted without a first
    answer on record counts as started when it submitted."""
    last = max(today, first_day)  # past the deadline too: late reports still count
    days = [first_day + timedelta(n) for n in range((last - first_day).days + 1)]
    submitted, working = [], []
    for day in days:
        end = datetime.combine(day + timedelta(1), time(), tz)
        done = sum(1 for _, at in units if at is not None and at < end)
        begun = sum(1 for started, at in units if _began(started, at, end))
        submitted.append(done)
        working.append(begun - done)
    return Burnup(days, submitted, working)


def _began(started: datetime | None, submitted: datetime | None, end: datetime) -> bool:
    moments = [m for m in (started, submitted) if m is not None]
    return bool(moments) and min(moments) < end


def share_counts(answered: Sequence[int], total_items: int) -> list[int]:
    """How many units fall in each of SHARE_BUCKETS (percent answered, rounded down)."""
    counts = [0] * len(SHARE_BUCKETS)
    for count in answered:
        percent = _percent(count, total_items)
        for index, (low, high) in enumerate(SHARE_BUCKETS):
            if low <= percent <= high:
                counts[index] += 1
                break
    return counts


def _percent(count: int, total: int) -> int:
    """Rounded down, but 0 and 100 only when none or all are answered."""
    if count <= 0 or total <= 0:
        return 0
    if count >= total:
        return 100
    return min(99, max(1, 100 * count // total))
