"""Pure rules of fix reminders (storage/rules/remediation.py): when a fix is late, and the
reminder policy a campaign's fixes follow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from storage.formats.campaign_spec import ReminderPolicy
from storage.rules.remediation import (
    FIX_OVERDUE_EVERY,
    FIX_REMINDERS,
    fix_deadline,
    fix_policy,
)


@pytest.mark.parametrize(
    ("due_on", "tz", "expected"),
    [
        (date(2021, 9, 21), "Asia/Ho_Chi_Minh", datetime(2021, 9, 21, 10, 0, tzinfo=UTC)),
        (date(2021, 12, 31), "Asia/Ho_Chi_Minh", datetime(2021, 12, 31, 10, 0, tzinfo=UTC)),
        (date(2021, 7, 1), "Europe/Paris", datetime(2021, 7, 1, 15, 0, tzinfo=UTC)),  # CEST
        (date(2021, 1, 4), "Europe/Paris", datetime(2021, 1, 4, 16, 0, tzinfo=UTC)),  # CET
    ],
)
def test_a_fix_is_late_after_17_00_local_on_its_day(due_on, tz, expected) -> None:
    assert fix_deadline(due_on, tz) == expected


@pytest.mark.parametrize(
    ("policy", "reminders", "overdue_every"),
    [
        (ReminderPolicy(), FIX_REMINDERS, FIX_OVERDUE_EVERY),
        (
            ReminderPolicy(reminders=(timedelta(days=7),), overdue_every=timedelta(days=1)),
            (timedelta(days=7),),
            timedelta(days=1),
        ),
        (ReminderPolicy(overdue_every=timedelta(hours=12)), FIX_REMINDERS, timedelta(hours=12)),
    ],
)
def test_fixes_follow_the_campaigns_policy_with_defaults(policy, reminders, overdue_every):
    got = fix_policy(policy)
    assert (got.reminders, got.overdue_every) == (reminders, overdue_every)


def test_quiet_hours_and_working_days_are_kept() -> None:
    policy = ReminderPolicy(quiet_start=time(21), quiet_end=time(7), working_days_only=True)
    got = fix_policy(policy)
    assert (got.quiet_start, got.quiet_end, got.working_days_only) == (time(21), time(7), True)
    assert got.escalate_after == policy.escalate_after
