"""The campaign's rhythm as tables: when each reminder, notice and summary is due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.formats.campaign_spec import ReminderPolicy
from storage.rules.timing import (
    LAST_CALL,
    SlotKind,
    due_now,
    is_working_day,
    iso_duration,
    last_summary,
    next_summary,
    parse_summary_at,
    quiet_period,
    reminder_slots,
    summary_due,
    visit_slots,
)

HCM = "Asia/Ho_Chi_Minh"
BERLIN = "Europe/Berlin"
D = timedelta(days=1)
H = timedelta(hours=1)
NIGHT = {"quiet_start": time(21, 0), "quiet_end": time(7, 0)}  # crosses midnight


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: str = HCM) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz))


def policy(**fields: object) -> ReminderPolicy:
    base: dict[str, object] = {"escalate_after": None}
    return ReminderPolicy(**{**base, **fields})


def table(slots: list, kinds: set[SlotKind] | None = None) -> list[tuple[str, datetime]]:
    return [(s.key, s.due) for s in slots if kinds is None or s.kind in kinds]


# -- calendar and keys -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "key"),
    [
        (7 * D, "P7D"),
        (2 * H, "PT2H"),
        (D + 12 * H, "P1DT12H"),
        (timedelta(minutes=30), "PT30M"),
        (timedelta(seconds=90), "PT1M30S"),
        (timedelta(0), "PT0S"),
    ],
)
def test_offset_keys_are_iso_durations(delta: timedelta, key: str) -> None:
    assert iso_duration(delta) == key


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ((2021, 9, 1), True),  # Wednesday
        ((2021, 9, 2), False),  # Quốc khánh 2/9
        ((2021, 9, 3), False),  # the added National Day holiday
        ((2021, 9, 4), False),  # Saturday
        ((2025, 1, 29), False),  # Mùng một Tết Ất Tỵ
        ((2025, 1, 24), True),  # the Friday before Tết
        ((2025, 4, 30), False),  # 30/4
    ],
)
def test_working_days(day: tuple[int, int, int], working: bool) -> None:
    assert is_working_day(datetime(*day, tzinfo=UTC).date()) is working


@pytest.mark.parametrize(
    ("instant", "quiet"),
    [
        (at(2021, 9, 29, 20, 59), None),
        (at(2021, 9, 29, 21, 0), (at(2021, 9, 29, 21), at(2021, 9, 30, 7))),
        (at(2021, 9, 30, 3, 0), (at(2021, 9, 29, 21), at(2021, 9, 30, 7))),
        (at(2021, 9, 30, 7, 0), None),  # the end is not quiet any more
    ],
)
def test_quiet_period_across_midnight(instant: datetime, quiet: tuple | None) -> None:
    zone = ZoneInfo(HCM)
    assert quiet_period(instant, time(21), time(7), zone) == quiet
    assert quiet_period(instant, time(7), time(7), zone) is None  # equal bounds: none


# -- deadline reminders ------------------------------------------------------------------------

BEFORE_CASES = [
    pytest.param(
        policy(reminders=(7 * D, 3 * D, D, 2 * H)),
        at(2021, 9, 30, 17),
        [
            ("before:P7D", at(2021, 9, 23, 17)),
            ("before:P3D", at(2021, 9, 27, 17)),
            ("before:P1D", at(2021, 9, 29, 17)),
            ("before:PT2H", at(2021, 9, 30, 15)),
        ],
        id="plain offsets",
    ),
    pytest.param(
        policy(reminders=(3 * H,), **NIGHT),
        at(2021, 9, 30, 8),
        [("before:PT3H", at(2021, 9, 30, 7))],
        id="quiet: moved to the morning",
    ),
    pytest.param(
        policy(reminders=(10 * H,), **NIGHT),
        at(2021, 9, 30, 8),
        [("before:PT10H", at(2021, 9, 30, 7))],
        id="quiet: 22:00 crosses midnight",
    ),
    pytest.param(
        policy(reminders=(2 * H,), **NIGHT),
        at(2021, 9, 30, 7),
        [("before:PT2H", at(2021, 9, 29, 21) - LAST_CALL)],
        id="quiet: morning would be the deadline, so the evening before",
    ),
    pytest.param(
        policy(reminders=(H,), **NIGHT),
        at(2021, 9, 30, 23, 30),
        [("before:PT1H", at(2021, 9, 30, 20, 59))],
        id="quiet: late deadline, reminder before the quiet hours",
    ),
    pytest.param(
        policy(reminders=(5 * H,), quiet_start=time(12), quiet_end=time(13, 30)),
        at(2021, 9, 30, 17),
        [("before:PT5H", at(2021, 9, 30, 13, 30))],
        id="quiet: lunch break, same day",
    ),
    pytest.param(
        policy(reminders=(2 * D,), working_days_only=True),
        at(2021, 9, 13, 10),
        [("before:P2D", at(2021, 9, 10, 10))],
        id="saturday -> friday",
    ),
    pytest.param(
        policy(reminders=(2 * D,)),
        at(2021, 9, 13, 10),
        [("before:P2D", at(2021, 9, 11, 10))],
        id="weekends allowed without the rule",
    ),
    pytest.param(
        policy(reminders=(3 * D,), working_days_only=True),
        at(2021, 9, 6, 10),
        [("before:P3D", at(2021, 9, 1, 10))],
        id="National Day 2-3/9 skipped back",
    ),
    pytest.param(
        policy(reminders=(3 * D,), working_days_only=True),
        at(2025, 2, 3, 17),
        [("before:P3D", at(2025, 1, 24, 17))],
        id="Tết skipped back",
    ),
    pytest.param(
        policy(reminders=(3 * D, 2 * D, D), working_days_only=True),
        at(2021, 9, 13, 10),
        [("before:P1D", at(2021, 9, 10, 10))],
        id="three reminders on one friday collapse to the nearest",
    ),
    pytest.param(
        policy(reminders=(2 * D + 10 * H, 3 * H), working_days_only=True, **NIGHT),
        at(2021, 9, 13, 8),
        [("before:P2DT10H", at(2021, 9, 10, 20, 59)), ("before:PT3H", at(2021, 9, 13, 7))],
        id="quiet friday night would end on saturday, so friday evening",
    ),
    pytest.param(
        policy(reminders=(2 * H,), working_days_only=True, **NIGHT),
        at(2021, 9, 13, 7),
        [("before:PT2H", at(2021, 9, 10, 20, 59))],
        id="monday 07:00 deadline: the last working evening",
    ),
    pytest.param(
        policy(reminders=(timedelta(0), -H)),
        at(2021, 9, 30, 17),
        [],
        id="non-positive offsets ignored",
    ),
]


@pytest.mark.parametrize(("rules", "deadline", "expected"), BEFORE_CASES)
def test_before_reminders(rules: ReminderPolicy, deadline: datetime, expected: list) -> None:
    slots = reminder_slots(deadline, rules, HCM)
    assert table(slots, {SlotKind.BEFORE}) == expected
    before = [s for s in slots if s.kind == SlotKind.BEFORE]
    assert all(s.due < deadline and s.expires == deadline for s in before)


OVERDUE_CASES = [
    pytest.param(
        policy(overdue_every=D, overdue_limit=3),
        at(2021, 9, 30, 17),
        [
            ("overdue:1", at(2021, 10, 1, 17)),
            ("overdue:2", at(2021, 10, 2, 17)),
            ("overdue:3", at(2021, 10, 3, 17)),
        ],
        id="every day, limit 3",
    ),
    pytest.param(
        policy(overdue_every=D, overdue_limit=3, working_days_only=True),
        at(2021, 9, 30, 17),
        [("overdue:1", at(2021, 10, 1, 17)), ("overdue:3", at(2021, 10, 4, 8))],
        id="weekend ones collapse into monday morning",
    ),
    pytest.param(
        policy(overdue_every=D, overdue_limit=2, working_days_only=True),
        at(2021, 9, 1, 17),
        [("overdue:2", at(2021, 9, 6, 8))],
        id="National Day: next working day",
    ),
    pytest.param(
        policy(overdue_every=6 * H, overdue_limit=3, **NIGHT),
        at(2021, 9, 30, 17),
        [("overdue:2", at(2021, 10, 1, 7)), ("overdue:3", at(2021, 10, 1, 11))],
        id="night ones collapse into the end of quiet hours",
    ),
    pytest.param(policy(overdue_every=D, overdue_limit=0), at(2021, 9, 30, 17), [], id="limit 0"),
    pytest.param(policy(overdue_every=None), at(2021, 9, 30, 17), [], id="no repeat"),
]


@pytest.mark.parametrize(("rules", "deadline", "expected"), OVERDUE_CASES)
def test_overdue_reminders(rules: ReminderPolicy, deadline: datetime, expected: list) -> None:
    assert table(reminder_slots(deadline, rules, HCM), {SlotKind.OVERDUE}) == expected


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (policy(escalate_after=D), [("escalate", at(2021, 10, 1, 17))]),
        (policy(escalate_after=2 * D, working_days_only=True), [("escalate", at(2021, 10, 4, 8))]),
        (policy(escalate_after=None), []),
        (ReminderPolicy(), [("escalate", at(2021, 10, 1, 17))]),  # the default: once, 1 day
    ],
)
def test_escalation_once(rules: ReminderPolicy, expected: list) -> None:
    slots = reminder_slots(at(2021, 9, 30, 17), rules, HCM)
    assert table(slots, {SlotKind.ESCALATE}) == expected


def test_slot_keys_are_stable_and_sorted() -> None:
    rules = policy(reminders=(D, 3 * D), overdue_every=D, overdue_limit=2, escalate_after=D)
    first = reminder_slots(at(2021, 9, 30, 17), rules, HCM)
    assert first == reminder_slots(at(2021, 9, 30, 17), rules, HCM)
    assert [s.key for s in first] == [
        "before:P3D",
        "before:P1D",
        "due",
        "overdue:1",
        "overdue:2",
        "escalate",
    ]


def test_a_notice_at_the_deadline_itself() -> None:
    """Issue 19: "Đã đến hạn nộp" at D; moved to the next working morning when D is off."""
    [due] = [s for s in reminder_slots(at(2021, 9, 30, 17), policy(), HCM) if s.kind == "due"]
    assert (due.key, due.due) == ("due", at(2021, 9, 30, 17))
    weekend = policy(working_days_only=True)
    [due] = [s for s in reminder_slots(at(2021, 10, 2, 17), weekend, HCM) if s.kind == "due"]
    assert due.due == at(2021, 10, 4, 8)


# -- visits ------------------------------------------------------------------------------------

VISIT_CASES = [
    pytest.param(
        True,
        policy(),
        at(2021, 9, 13, 9),
        [("visit:notice", at(2021, 9, 6, 9)), ("visit:eve", at(2021, 9, 12, 16))],
        id="notice a week before, eve the calendar day before at 16:00",
    ),
    pytest.param(
        True,
        policy(working_days_only=True),
        at(2021, 9, 13, 9),
        [("visit:notice", at(2021, 9, 6, 9)), ("visit:eve", at(2021, 9, 10, 16))],
        id="monday visit: eve on friday",
    ),
    pytest.param(
        True,
        policy(working_days_only=True),
        at(2025, 2, 3, 8),
        [("visit:notice", at(2025, 1, 24, 8)), ("visit:eve", at(2025, 1, 24, 16))],
        id="visit after Tết: both before the holiday",
    ),
    pytest.param(
        True,
        policy(visit_notice_before=12 * H),
        at(2021, 9, 14, 9),
        [("visit:notice", at(2021, 9, 13, 21))],
        id="eve dropped when not after notice",
    ),
    pytest.param(False, policy(), at(2021, 9, 13, 9), [], id="unannounced: nothing"),
]


@pytest.mark.parametrize(("announced", "rules", "visit", "expected"), VISIT_CASES)
def test_visit_notices(
    announced: bool, rules: ReminderPolicy, visit: datetime, expected: list
) -> None:
    assert table(visit_slots(visit, announced=announced, policy=rules, tz=HCM)) == expected


# -- catch-up ----------------------------------------------------------------------------------

CATCH_UP_RULES = policy(
    reminders=(3 * D, D, 2 * H), overdue_every=D, overdue_limit=5, escalate_after=D
)


@pytest.mark.parametrize(
    ("last_seen", "now", "expected"),
    [
        pytest.param(at(2021, 9, 28, 16), at(2021, 9, 29, 16), [], id="nothing due"),
        pytest.param(
            at(2021, 9, 29, 12),
            at(2021, 9, 30, 16),
            ["before:PT2H"],
            id="a day down: the 1-day reminder folds into the 2-hour one",
        ),
        pytest.param(
            at(2021, 9, 29, 12),
            at(2021, 9, 30, 18),
            ["due"],
            id="back after the deadline: 'due soon' is never sent late, 'due now' is",
        ),
        pytest.param(
            at(2021, 9, 29, 12),
            at(2021, 10, 3, 18),
            ["escalate", "overdue:3"],
            id="days down: one overdue, one escalation",
        ),
        pytest.param(None, at(2021, 9, 28, 9), ["before:P3D"], id="first run"),
        pytest.param(at(2021, 9, 30, 15), at(2021, 9, 30, 15), [], id="already seen"),
    ],
)
def test_catch_up_sends_one_slot_per_stream(
    last_seen: datetime | None, now: datetime, expected: list[str]
) -> None:
    slots = reminder_slots(at(2021, 9, 30, 17), CATCH_UP_RULES, HCM)
    assert [s.key for s in due_now(slots, now, last_seen)] == expected


def test_catch_up_keeps_visit_and_deadline_streams_apart() -> None:
    slots = [
        *reminder_slots(at(2021, 9, 30, 17), CATCH_UP_RULES, HCM),
        *visit_slots(at(2021, 10, 5, 9), announced=True, policy=policy(), tz=HCM),
    ]
    found = due_now(slots, at(2021, 9, 29, 18), at(2021, 9, 27, 18))
    assert [s.key for s in found] == ["visit:notice", "before:P1D"]


# -- summaries ---------------------------------------------------------------------------------


# The summary_at grammar is one table, run by every reader: tests/test_timing_forms.py.

NEXT_CASES = [
    pytest.param(
        "mon-fri 08:00", at(2021, 9, 3, 8), False, at(2021, 9, 6, 8), HCM, id="friday -> monday"
    ),
    pytest.param(
        "mon-fri 08:00", at(2021, 9, 6, 8), False, at(2021, 9, 7, 8), HCM, id="strictly after"
    ),
    pytest.param(
        "mon-fri 08:00",
        at(2021, 9, 1, 8),
        False,
        at(2021, 9, 2, 8),
        HCM,
        id="holiday kept without the rule",
    ),
    pytest.param(
        "mon-fri 08:00", at(2021, 9, 1, 8), True, at(2021, 9, 6, 8), HCM, id="National Day skipped"
    ),
    pytest.param(
        "daily 08:00,17:30",
        at(2021, 9, 6, 12),
        False,
        at(2021, 9, 6, 17, 30),
        HCM,
        id="second time of the day",
    ),
    pytest.param(
        "daily 08:00",
        at(2024, 3, 30, 8, tz=BERLIN),
        False,
        datetime(2024, 3, 31, 6, tzinfo=UTC),
        BERLIN,
        id="berlin: into summer time",
    ),
    pytest.param(
        "daily 02:30",
        at(2024, 3, 30, 2, 30, tz=BERLIN),
        False,
        datetime(2024, 3, 31, 1, 30, tzinfo=UTC),
        BERLIN,
        id="berlin: 02:30 does not exist, happens at 03:30",
    ),
    pytest.param(
        "daily 02:30",
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
        False,
        datetime(2024, 10, 28, 1, 30, tzinfo=UTC),
        BERLIN,
        id="berlin: 02:30 twice, only the first",
    ),
]


@pytest.mark.parametrize(("text", "after", "holidays", "expected", "tz"), NEXT_CASES)
def test_next_summary(
    text: str, after: datetime, holidays: bool, expected: datetime, tz: str
) -> None:
    assert next_summary(parse_summary_at(text), after, tz, skip_holidays=holidays) == expected


@pytest.mark.parametrize(
    ("text", "now", "holidays", "expected", "tz"),
    [
        ("mon-fri 08:00", at(2021, 9, 5, 12), False, at(2021, 9, 3, 8), HCM),
        ("mon-fri 08:00", at(2021, 9, 5, 12), True, at(2021, 9, 1, 8), HCM),
        ("mon-fri 08:00", at(2021, 9, 6, 8), False, at(2021, 9, 6, 8), HCM),  # at or before
        (
            "daily 08:00",
            datetime(2024, 3, 31, 7, tzinfo=UTC),
            False,
            datetime(2024, 3, 31, 6, tzinfo=UTC),
            BERLIN,
        ),
    ],
)
def test_last_summary(
    text: str, now: datetime, holidays: bool, expected: datetime, tz: str
) -> None:
    assert last_summary(parse_summary_at(text), now, tz, skip_holidays=holidays) == expected


@pytest.mark.parametrize(
    ("last_sent", "now", "expected"),
    [
        (at(2021, 9, 3, 8), at(2021, 9, 7, 9), at(2021, 9, 7, 8)),  # 2 missed -> one, latest
        (at(2021, 9, 7, 8), at(2021, 9, 7, 9), None),
        (None, at(2021, 9, 7, 9), at(2021, 9, 7, 8)),
    ],
)
def test_missed_summaries_collapse(
    last_sent: datetime | None, now: datetime, expected: datetime | None
) -> None:
    schedule = parse_summary_at("mon-fri 08:00")
    assert summary_due(schedule, now, last_sent, HCM) == expected
