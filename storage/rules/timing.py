"""When the campaign's reminders, notices and summaries are due: pure rules, no I/O.

Every instant given or returned is an aware datetime (returned in UTC); "local" means the
campaign timezone. The rules, in the order they are applied:

Deadline reminders (`reminder_slots`), for a unit deadline D:
  - "before": one slot per offset of `policy.reminders`, nominally at D - offset, key
    "before:<ISO 8601 duration>" ("before:P3D", "before:PT2H"). Offsets <= 0 are ignored.
    Working days: a slot falling on a weekend or a Vietnamese public holiday moves EARLIER,
    to the previous working day at the same local time: a reminder due on Saturday for a
    Monday deadline is useful on Friday, useless on Monday.
    Quiet hours: a slot inside them moves to the end of the quiet period, unless that end
    is not strictly before D (or, with working days, falls on a day off); then it moves
    back to one minute before the quiet period began (`LAST_CALL`), and the working-day
    rule is applied again. A "before" slot is therefore never moved past its deadline.
  - "due": at D itself, key "due" ("Đã đến hạn nộp", to units not submitted yet), moved
    later like "overdue" when D falls in quiet hours or on a day off.
  - "overdue": every `overdue_every` after D, at most `overdue_limit` times, key
    "overdue:<n>" (n from 1). Working days: a slot on a day off moves LATER, to the next
    working day at `OFFICE_OPENS` (08:00 local); quiet hours: to the end of the period.
  - "escalate": once, `escalate_after` after D, key "escalate", moved later like "overdue".
    It goes to the team leader, not to the unit.
  Slots of one kind that land on the same instant after moving collapse into one: the one
  nearest the deadline for "before", the highest n for "overdue".

Visit notices (`visit_slots`), for an announced visit at V (an unannounced visit, đột xuất,
gives no slot at all: the unit must not learn the date):
  - "visit:notice": nominally V - `visit_notice_before` (7 days by default);
  - "visit:eve": "the day before" is the previous calendar day (the previous working day
    with `working_days_only`) at `VISIT_EVE_AT` (16:00 local), so the unit prepares during
    office hours rather than being woken exactly 24 h before an 08:00 visit. It is dropped
    when it would not come strictly after the notice.
  Both move earlier like "before" slots, never past V.

Catch-up (`due_now`): after downtime, the missed slots of one stream ("deadline": before +
overdue; "escalation"; "visit") collapse into the latest one; a slot whose moment has
passed (a "before" slot after its deadline, a visit slot after the visit) is never sent.

Summaries (`next_summary`, `last_summary`, `summary_due`) follow a `SummarySchedule`, read
from the `summary_at` text by `parse_summary_at` (storage/rules/timing_forms.py, which holds
the grammar of every timing setting; both are importable from here).
Local times that do not exist (spring DST gap) happen at the instant the clock would have
shown them without the jump (02:30 -> 03:30 summer time); ambiguous ones (autumn) happen
once, at the first occurrence. Asia/Ho_Chi_Minh has no DST; the rule is for other zones.

Working days are Monday to Friday minus Vietnamese public holidays (the `holidays` package:
Tết, Hùng Kings, 30/4, 1/5, 2/9 and the days the government adds). Make-up working
Saturdays (ngày làm bù) are treated as days off: a reminder then comes a day early, never
on a day nobody is in the office.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from storage.formats.campaign_spec import ReminderPolicy
from storage.rules.timing_forms import SummarySchedule as SummarySchedule
from storage.rules.timing_forms import parse_summary_at as parse_summary_at

OFFICE_OPENS = time(8, 0)  # where a reminder moved to "the next working day" lands
VISIT_EVE_AT = time(16, 0)  # the visit reminder on the day before
LAST_CALL = timedelta(minutes=1)  # a slot moved before quiet hours lands this much earlier
_MAX_MOVES = 400  # bounds the adjustment loops (a year of days off cannot be exceeded)


class SlotKind(StrEnum):
    BEFORE = "before"
    DUE = "due"  # at the deadline itself: "Đã đến hạn nộp"
    OVERDUE = "overdue"
    ESCALATE = "escalate"
    VISIT_NOTICE = "visit_notice"
    VISIT_EVE = "visit_eve"


_STREAMS = {
    SlotKind.BEFORE: "deadline",
    SlotKind.DUE: "deadline",
    SlotKind.OVERDUE: "deadline",
    SlotKind.ESCALATE: "escalation",
    SlotKind.VISIT_NOTICE: "visit",
    SlotKind.VISIT_EVE: "visit",
}


@dataclass(frozen=True)
class Slot:
    """One planned message: `key` is stable (part of the outbox dedupe key)."""

    key: str
    kind: SlotKind
    due: datetime  # when to send, after quiet hours and working days (UTC)
    nominal: datetime  # the instant the rule names, before any move (UTC)
    expires: datetime | None = None  # past this instant the message makes no sense

    @property
    def stream(self) -> str:
        """Slots of one stream replace each other in catch-up; streams never do."""
        return _STREAMS[self.kind]


# -- calendar ----------------------------------------------------------------------------


@lru_cache(maxsize=64)
def vn_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("VN", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in vn_holidays(day.year)


def iso_duration(delta: timedelta) -> str:
    """A stable, readable key for an offset: 3 days -> "P3D", 2 hours -> "PT2H"."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if seconds == 0:
        return "PT0S"
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Local day and time -> UTC (gap times resolve forward, ambiguous ones to the first)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


# -- quiet hours -------------------------------------------------------------------------


def quiet_period(
    instant: datetime, start: time | None, end: time | None, zone: ZoneInfo
) -> tuple[datetime, datetime] | None:
    """The quiet period [start, end) containing `instant`, or None when outside (or no
    quiet hours: either bound missing, or both equal). Periods may cross midnight."""
    if start is None or end is None or start == end:
        return None
    local = _local(instant, zone)
    day, now = local.date(), local.time()
    if start < end:
        span = (day, day) if start <= now < end else None
    elif now >= start:
        span = (day, day + timedelta(days=1))
    elif now < end:
        span = (day - timedelta(days=1), day)
    else:
        span = None
    if span is None:
        return None
    begins, ends = _at(span[0], start, zone), _at(span[1], end, zone)
    # Near a DST jump the wall-clock test and the instants can disagree; trust the instants.
    return (begins, ends) if begins <= instant < ends else None


# -- moving slots ------------------------------------------------------------------------


def _previous_working_day(day: date) -> date:
    day -= timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def _next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def move_earlier(
    instant: datetime, limit: datetime, policy: ReminderPolicy, zone: ZoneInfo
) -> datetime:
    """Adjust a slot that must come before `limit` (a deadline, a visit); see the module."""
    for _ in range(_MAX_MOVES):
        local = _local(instant, zone)
        if policy.working_days_only and not is_working_day(local.date()):
            instant = _at(_previous_working_day(local.date()), local.time(), zone)
            continue
        quiet = quiet_period(instant, policy.quiet_start, policy.quiet_end, zone)
        if quiet is None:
            return instant
        after = quiet[1]
        if after < limit and (
            not policy.working_days_only or is_working_day(_local(after, zone).date())
        ):
            return after
        instant = quiet[0] - LAST_CALL
    return instant


def move_later(instant: datetime, policy: ReminderPolicy, zone: ZoneInfo) -> datetime:
    """Adjust a slot that may only come later (overdue, escalation); see the module."""
    for _ in range(_MAX_MOVES):
        local = _local(instant, zone)
        if policy.working_days_only and not is_working_day(local.date()):
            instant = _at(_next_working_day(local.date()), OFFICE_OPENS, zone)
            continue
        quiet = quiet_period(instant, policy.quiet_start, policy.quiet_end, zone)
        if quiet is None:
            return instant
        instant = quiet[1]
    return instant


def _collapse(slots: list[Slot]) -> list[Slot]:
    """Keep one slot per due instant: the last given (callers order by priority)."""
    by_due: dict[datetime, Slot] = {}
    for slot in slots:
        by_due[slot.due] = slot
    return sorted(by_due.values(), key=lambda s: s.due)


# -- deadline reminders ------------------------------------------------------------------


def reminder_slots(deadline: datetime, policy: ReminderPolicy, tz: str) -> list[Slot]:
    """Every deadline slot of one unit (before, overdue, escalation), sorted by due."""
    zone = ZoneInfo(tz)
    deadline = deadline.astimezone(UTC)
    return [
        *_before_slots(deadline, policy, zone),
        Slot("due", SlotKind.DUE, move_later(deadline, policy, zone), deadline),
        *_overdue_slots(deadline, policy, zone),
        *_escalation_slot(deadline, policy, zone),
    ]


def _before_slots(deadline: datetime, policy: ReminderPolicy, zone: ZoneInfo) -> list[Slot]:
    # Largest offset first, so that on a collision the one nearest the deadline wins.
    offsets = sorted((o for o in policy.reminders if o > timedelta(0)), reverse=True)
    slots = []
    for offset in offsets:
        nominal = deadline - offset
        slots.append(
            Slot(
                f"before:{iso_duration(offset)}",
                SlotKind.BEFORE,
                move_earlier(nominal, deadline, policy, zone),
                nominal,
                deadline,
            )
        )
    return _collapse(slots)


def _overdue_slots(deadline: datetime, policy: ReminderPolicy, zone: ZoneInfo) -> list[Slot]:
    every = policy.overdue_every
    if every is None or every <= timedelta(0):
        return []
    slots = []
    for n in range(1, policy.overdue_limit + 1):
        nominal = deadline + n * every
        slots.append(
            Slot(f"overdue:{n}", SlotKind.OVERDUE, move_later(nominal, policy, zone), nominal)
        )
    return _collapse(slots)


def _escalation_slot(deadline: datetime, policy: ReminderPolicy, zone: ZoneInfo) -> list[Slot]:
    if policy.escalate_after is None:
        return []
    nominal = deadline + policy.escalate_after
    return [Slot("escalate", SlotKind.ESCALATE, move_later(nominal, policy, zone), nominal)]


# -- visits ------------------------------------------------------------------------------


def visit_slots(
    visit_at: datetime, *, announced: bool, policy: ReminderPolicy, tz: str
) -> list[Slot]:
    """The unit-facing slots of a visit: the notice and the reminder the day before."""
    if not announced:
        return []
    zone = ZoneInfo(tz)
    visit_at = visit_at.astimezone(UTC)
    nominal = visit_at - policy.visit_notice_before
    notice = Slot(
        "visit:notice",
        SlotKind.VISIT_NOTICE,
        move_earlier(nominal, visit_at, policy, zone),
        nominal,
        visit_at,
    )
    visit_day = _local(visit_at, zone).date()
    eve_day = (
        _previous_working_day(visit_day)
        if policy.working_days_only
        else visit_day - timedelta(days=1)
    )
    eve_nominal = _at(eve_day, VISIT_EVE_AT, zone)
    eve = Slot(
        "visit:eve",
        SlotKind.VISIT_EVE,
        move_earlier(eve_nominal, visit_at, policy, zone),
        eve_nominal,
        visit_at,
    )
    return [notice, eve] if eve.due > notice.due else [notice]


# -- catch-up ----------------------------------------------------------------------------


def due_now(slots: Iterable[Slot], now: datetime, last_seen: datetime | None) -> list[Slot]:
    """What to send now: per stream, the latest slot with last_seen < due <= now that has
    not expired. `last_seen` is when the planner last ran (None: never). After a day of
    downtime this gives one current reminder per stream, never the whole missed series."""
    latest: dict[str, Slot] = {}
    for slot in slots:
        if slot.due > now or (last_seen is not None and slot.due <= last_seen):
            continue
        if slot.expires is not None and slot.expires <= now:
            continue
        best = latest.get(slot.stream)
        if best is None or slot.due >= best.due:
            latest[slot.stream] = slot
    return sorted(latest.values(), key=lambda s: s.due)


# -- summaries ---------------------------------------------------------------------------

_SEARCH_DAYS = 400  # holidays can only ever remove a few days of a week


def _occurrences(
    schedule: SummarySchedule, day: date, zone: ZoneInfo, skip_holidays: bool
) -> list[datetime]:
    if day.weekday() not in schedule.weekdays:
        return []
    if skip_holidays and day in vn_holidays(day.year):
        return []
    return [_at(day, t, zone) for t in schedule.times]


def next_summary(
    schedule: SummarySchedule, after: datetime, tz: str, *, skip_holidays: bool = False
) -> datetime:
    """The first occurrence strictly after `after`. `skip_holidays` (set it from the
    policy's `working_days_only`) also skips Vietnamese public holidays."""
    zone = ZoneInfo(tz)
    start = _local(after, zone).date() - timedelta(days=1)  # a DST jump may shift a day
    for i in range(_SEARCH_DAYS):
        for instant in _occurrences(schedule, start + timedelta(days=i), zone, skip_holidays):
            if instant > after:
                return instant
    raise ValueError("no summary occurrence within a year")  # every day a holiday: impossible


def last_summary(
    schedule: SummarySchedule, now: datetime, tz: str, *, skip_holidays: bool = False
) -> datetime | None:
    """The latest occurrence at or before `now` (None if none within a year): a summary
    missed during downtime is sent once, for this occurrence, never once per missed one."""
    zone = ZoneInfo(tz)
    start = _local(now, zone).date() + timedelta(days=1)
    for i in range(_SEARCH_DAYS):
        found = _occurrences(schedule, start - timedelta(days=i), zone, skip_holidays)
        for instant in reversed(found):
            if instant <= now:
                return instant
    return None


def summary_due(
    schedule: SummarySchedule,
    now: datetime,
    last_sent: datetime | None,
    tz: str,
    *,
    skip_holidays: bool = False,
) -> datetime | None:
    """The occurrence to send now, if one came after `last_sent` (None: nothing to do)."""
    latest = last_summary(schedule, now, tz, skip_holidays=skip_holidays)
    if latest is None or (last_sent is not None and latest <= last_sent):
        return None
    return latest
