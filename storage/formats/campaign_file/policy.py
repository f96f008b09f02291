"""The reminder policy keys at the top of a campaign document -> a ReminderPolicy."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from storage.formats.campaign_file import values
from storage.formats.campaign_file.nodes import Node, Reader, seq
from storage.formats.campaign_spec import ReminderPolicy
from storage.rules.answers import fold

T = TypeVar("T")
_OFF = {"off", "none", "no", "khong", "tat"}  # a nullable policy value switched off


def read_policy(root: Node) -> ReminderPolicy:
    doc, base = root.doc, ReminderPolicy()
    quiet = _switchable(root, "quiet_hours", values.quiet_hours, None)
    summary = _switchable(root, "summary_at", values.summary_at, None)
    return ReminderPolicy(
        reminders=_reminders(root),
        overdue_every=_switchable(root, "overdue_every", values.duration, base.overdue_every),
        overdue_limit=values.count_or(doc, root.get("overdue_limit"), base.overdue_limit),
        escalate_after=_switchable(root, "escalate_after", values.duration, base.escalate_after),
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
        working_days_only=bool(values.boolean(doc, root.get("working_days_only"), False)),
        visit_notice_before=root.optional("visit_notice_before", values.duration)
        or base.visit_notice_before,
        summary_at=summary,
        summary_when_unchanged=bool(values.boolean(doc, root.get("summary_when_unchanged"), False)),
    )


def _switchable(root: Node, key: str, reader: Reader[T], default: T | None) -> T | None:
    """A policy value that null or "off" switches off; absent = the default."""
    if not root.present(key):
        return default
    value = root.get(key)
    if value is None or (isinstance(value.raw, str) and fold(value.raw) in _OFF):
        return None
    return reader(root.doc, value)


def _reminders(root: Node) -> tuple[timedelta, ...]:
    entries = seq(root.doc, root.get("reminders")) or []
    found = {d for e in entries if (d := values.duration(root.doc, e)) is not None}
    return tuple(sorted(found, reverse=True))
