"""How a campaign's timing settings are written, read and written back: pure, no I/O.

The one parser of each concept: the campaign file and workbook readers (storage/formats)
and the scheduler (schedules/, through storage/rules/timing.py) all call these, so a form
one of them accepts the others accept too. docs/campaign-file.md lists every form.

    duration     := (NUMBER UNIT)+            UNIT: w (weeks), d, h, m (minutes); "1d12h",
                                              "1d 12h"; positive: "0d" is refused
    time of day  := H:MM | HH:MM              24-hour clock: "8:05", "17:30"
    quiet hours  := time "-" time             "21:00-07:00" (may cross midnight; start
                                              and end must differ)
    summary_at   := [days SPACE] times        no days: every day ("08:00")
    days         := "daily" | "*" | day-or-range ("," day-or-range)*
    day-or-range := day | day "-" day         a range may wrap: "sat-mon"
    day          := mon | tue | wed | thu | fri | sat | sun | t2 ... t7 | cn
    times        := time ("," time)*

Case and spaces around "," and "-" do not matter. A text that does not read raises
`TimingFormError`: a ValueError whose `code` and `params` name the catalog text
(`campaign_file.problem.<code>`) the readers show the admin, and whose message (English)
the scheduler logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta

# Every code these parsers raise and the params of its catalog text (tests/test_locales.py).
PROBLEM_PARAMS: dict[str, tuple[str, ...]] = {
    "bad_duration": ("value",),
    "not_positive": ("value",),
    "bad_time_of_day": ("value", "time"),
    "bad_quiet_hours": ("value",),
    "quiet_hours_empty": ("value",),
    "bad_summary_at": ("value",),
    "summary_unknown_day": ("value", "day"),
}


class TimingFormError(ValueError):
    """A timing setting that does not read; `code` and `params` name its catalog text."""

    def __init__(self, code: str, reason: str, **params: str) -> None:
        assert set(params) == set(PROBLEM_PARAMS[code]), code  # keeps the catalog honest
        super().__init__(reason)
        self.code = code
        self.params = params


# -- durations ---------------------------------------------------------------------------

_DURATION_PART = re.compile(r"\s*(\d+)\s*([wdhm])\s*")
_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}


def parse_duration(text: str) -> timedelta:
    """ "7d", "2h", "90m", "1w", "1d12h", "1d 12h" -> timedelta (m = minutes)."""
    cleaned = text.strip().lower()
    if not cleaned or _DURATION_PART.sub("", cleaned):
        raise TimingFormError("bad_duration", f"not a duration: {text!r}", value=text)
    delta = sum((int(n) * _UNITS[u] for n, u in _DURATION_PART.findall(cleaned)), timedelta())
    if delta <= timedelta():
        raise TimingFormError("not_positive", f"a duration must be positive: {text!r}", value=text)
    return delta


def duration_text(delta: timedelta) -> str:
    """The written form `parse_duration` reads back: 36 hours -> "1d12h" (whole minutes)."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return "".join(parts) or "0m"


# -- times of day and quiet hours --------------------------------------------------------

_TIME = r"\d{1,2}:\d{2}"
_QUIET = re.compile(rf"({_TIME})\s*-\s*({_TIME})")


def parse_time_of_day(text: str, whole: str | None = None) -> time:
    """ "8:05" -> 08:05. `whole` is the setting the time is part of, for the message."""
    value = text if whole is None else whole
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and len(minutes) == 2 and minutes.isdigit()):
        raise TimingFormError(
            "bad_time_of_day", f"not a time of day: {text!r}", value=value, time=text.strip()
        )
    if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
        raise TimingFormError(
            "bad_time_of_day", f"no such time of day: {text!r}", value=value, time=text.strip()
        )
    return time(int(hours), int(minutes))


def parse_quiet_hours(text: str) -> tuple[time, time]:
    """ "21:00-07:00" -> (21:00, 07:00); the period may cross midnight."""
    found = _QUIET.fullmatch(text.strip())
    if found is None:
        raise TimingFormError(
            "bad_quiet_hours", f"expected 'HH:MM-HH:MM', got {text!r}", value=text
        )
    start, end = parse_time_of_day(found[1], text), parse_time_of_day(found[2], text)
    if start == end:
        raise TimingFormError(
            "quiet_hours_empty", f"quiet hours start where they end: {text!r}", value=text
        )
    return start, end


def quiet_hours_text(start: time, end: time) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


# -- summary schedules -------------------------------------------------------------------

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS = {
    **{name: number for number, name in enumerate(_DAY_NAMES)},
    # Vietnamese: thứ hai (t2) ... thứ bảy (t7), chủ nhật (cn)
    "t2": 0,
    "t3": 1,
    "t4": 2,
    "t5": 3,
    "t6": 4,
    "t7": 5,
    "cn": 6,
}
_EVERY_DAY = ("daily", "*")
_SUMMARY = re.compile(rf"(?:(?P<days>.*?\S)\s+)?(?P<times>{_TIME}(?:\s*,\s*{_TIME})*)")
_DAY_TOKEN = re.compile(r"[a-z0-9*]+")


@dataclass(frozen=True)
class SummarySchedule:
    """When the team's summary goes out: on these weekdays, at these local times."""

    weekdays: frozenset[int]  # 0 = Monday
    times: tuple[time, ...]  # sorted, local

    def __post_init__(self) -> None:
        if not self.weekdays or not self.times:
            raise ValueError("a summary schedule needs at least one day and one time")

    def __str__(self) -> str:
        """The canonical form, as stored: "mon-fri 08:00,16:30", "mon,sat-sun 09:15"."""
        times = ",".join(f"{t:%H:%M}" for t in self.times)
        return f"{_days_text(self.weekdays)} {times}"


def _days_text(weekdays: frozenset[int]) -> str:
    """Runs of days, Monday first: {0, 1, 2, 4} -> "mon-wed,fri"."""
    runs: list[list[int]] = []
    for day in sorted(weekdays):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    names = [
        _DAY_NAMES[r[0]] if len(r) == 1 else f"{_DAY_NAMES[r[0]]}-{_DAY_NAMES[r[-1]]}" for r in runs
    ]
    return ",".join(names)


def parse_summary_at(text: str) -> SummarySchedule:
    """A `summary_at` text -> its schedule (see the module for the grammar). Examples:
    "mon-fri 08:00", "t2-t6 08:00,16:30", "mon,wed,fri 17:30", "daily 08:00", "08:00"."""
    found = _SUMMARY.fullmatch(text.strip().lower())
    if found is None:
        raise TimingFormError(
            "bad_summary_at",
            f"expected '<days> HH:MM', e.g. 'mon-fri 08:00', got {text!r}",
            value=text,
        )
    days = _parse_days(found["days"], text)
    times = {parse_time_of_day(t, text) for t in found["times"].split(",")}
    return SummarySchedule(days, tuple(sorted(times)))


def _parse_days(days: str | None, whole: str) -> frozenset[int]:
    if days is None or days.strip() in _EVERY_DAY:
        return frozenset(range(7))
    weekdays: set[int] = set()
    for part in days.split(","):
        first, dash, last = (p.strip() for p in part.partition("-"))
        start = _parse_day(first, whole)
        end = _parse_day(last, whole) if dash else start
        weekdays.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return frozenset(weekdays)


def _parse_day(name: str, whole: str) -> int:
    if name in _DAYS:
        return _DAYS[name]
    if not _DAY_TOKEN.fullmatch(name):  # "", "mon-fri 08:00," : not a day at all
        raise TimingFormError("bad_summary_at", f"cannot read the days of {whole!r}", value=whole)
    raise TimingFormError(
        "summary_unknown_day",
        f"unknown day {name!r} in {whole!r} (use mon..sun or t2..t7, cn)",
        value=whole,
        day=name,
    )
