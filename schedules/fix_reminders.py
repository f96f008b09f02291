"""Reminders of remediation fixes (khắc phục): before each fix's due date, when it is
overdue, and an escalation of an overdue fix to the team's leaders.

The same rules as the report reminders (schedules/reminders.py, storage/rules/timing.py):
the campaign's reminder offsets, quiet hours and working days, one current reminder per
fix after downtime (`due_now` with the pass's mark `fixes:<campaign>`), and dedupe keys
holding the fix's deadline and the slot, so nothing is sent twice. A fix the unit has
reported (waiting for the team) or the team has accepted gets none.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_date
from schedules.reminders import reminder_row
from storage.db.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Conclusion,
    FixStatus,
    Membership,
    Role,
    ScheduleMark,
    Shortcoming,
    Unit,
)
from storage.formats.campaign_spec import policy_from_dict
from storage.rules.remediation import fix_deadline, fix_policy
from storage.rules.timing import Slot, SlotKind, due_now, reminder_slots
from storage.services.outbox import button, enqueue_many

TEXT_SHOWN = 120


@dataclass
class FixStats:
    reminders: int = 0
    escalations: int = 0


@dataclass(frozen=True)
class _Fix:
    shortcoming_id: int
    position: int
    text: str
    due_on: date
    assignment_id: int
    team_id: int
    unit_name: str


async def plan_fix_reminders(session: AsyncSession, *, now: datetime) -> FixStats:
    stats = FixStats()
    by_campaign = await _open_fixes(session)
    for campaign_id, fixes in by_campaign.items():
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        mark = await _mark(session, campaign_id, now)
        last_seen = datetime.fromisoformat(mark.value["at"]) if mark.value.get("at") else None
        policy = fix_policy(policy_from_dict(campaign.policy or {}))
        due: list[tuple[_Fix, Slot, datetime]] = []
        for fix in fixes:
            deadline = fix_deadline(fix.due_on, campaign.timezone)
            slots = [
                s
                for s in reminder_slots(deadline, policy, campaign.timezone)
                if s.kind != SlotKind.DUE
            ]
            due += [(fix, slot, deadline) for slot in due_now(slots, now, last_seen)]
        if due:
            rows = await _rows(session, campaign, due, now, stats)
            await enqueue_many(session, rows)
        mark.value = {"at": now.isoformat()}
        mark.updated_at = now
    return stats


async def _open_fixes(session: AsyncSession) -> dict[int, list[_Fix]]:
    rows = await session.execute(
        select(
            Assignment.campaign_id,
            Shortcoming.id,
            Shortcoming.position,
            Shortcoming.text,
            Shortcoming.due_on,
            Assignment.id,
            Assignment.team_id,
            Unit.name,
        )
        .join(Conclusion, Conclusion.id == Shortcoming.conclusion_id)
        .join(Assignment, Assignment.id == Conclusion.assignment_id)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Conclusion.issued_at.is_not(None), Shortcoming.status == FixStatus.OPEN.value)
        .order_by(Assignment.position, Shortcoming.position)
    )
    found: dict[int, list[_Fix]] = defaultdict(list)
    for campaign_id, sid, position, text, due_on, assignment_id, team_id, unit in rows:
        found[campaign_id].append(_Fix(sid, position, text, due_on, assignment_id, team_id, unit))
    return found


async def _mark(session: AsyncSession, campaign_id: int, now: datetime) -> ScheduleMark:
    key = f"fixes:{campaign_id}"
    mark = await session.scalar(select(ScheduleMark).where(ScheduleMark.key == key))
    if mark is None:
        mark = ScheduleMark(key=key, value={}, updated_at=now)
        session.add(mark)
    return mark


async def _accounts(
    session: AsyncSession, campaign_id: int, role: Role
) -> list[tuple[int | None, int | None, int, int, int]]:
    """(assignment, team, membership, account, person) of the campaign's reachable people
    in `role`."""
    rows = await session.execute(
        select(
            Membership.assignment_id,
            Membership.team_id,
            Membership.id,
            ChatAccount.id,
            ChatAccount.person_id,
        )
        .join(ChatAccount, ChatAccount.person_id == Membership.person_id)
        .where(
            Membership.campaign_id == campaign_id,
            Membership.role == role.value,
            Membership.revoked_at.is_(None),
            ChatAccount.unreachable_at.is_(None),
        )
        .order_by(ChatAccount.id)
    )
    return [(a, t, m, acc, p) for a, t, m, acc, p in rows]


async def _rows(
    session: AsyncSession,
    campaign: Campaign,
    due: list[tuple[_Fix, Slot, datetime]],
    now: datetime,
    stats: FixStats,
) -> list[dict[str, Any]]:
    contacts: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for assignment_id, _, membership, account, person in await _accounts(
        session, campaign.id, Role.UNIT_CONTACT
    ):
        if assignment_id is not None:
            contacts[assignment_id].append((membership, account, person))
    leaders: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if any(slot.kind == SlotKind.ESCALATE for _, slot, _ in due):
        for _, team_id, _, account, person in await _accounts(
            session, campaign.id, Role.TEAM_LEADER
        ):
            if team_id is not None:
                leaders[team_id].append((account, person))
    rows = []
    for fix, slot, deadline in due:
        params = {
            "unit": fix.unit_name,
            "campaign": campaign.title,
            "number": fix.position,
            "text": fix.text[:TEXT_SHOWN],
            "due": fmt_date(fix.due_on),
        }
        stamp = int(deadline.timestamp())
        if slot.kind == SlotKind.ESCALATE:
            for account, person in leaders.get(fix.team_id, []):
                rows.append(
                    reminder_row(
                        campaign,
                        account,
                        person,
                        now,
                        kind="escalation",
                        template="remediation.escalation",
                        key=f"fixesc:{fix.shortcoming_id}:{stamp}:{account}",
                        params={
                            **params,
                            "_buttons": [
                                [button("conclusion.open_button", f"kl:{fix.assignment_id}")]
                            ],
                        },
                        due=slot.due,
                    )
                )
                stats.escalations += 1
            continue
        template = "remediation.overdue" if slot.kind == SlotKind.OVERDUE else "remediation.before"
        for membership, account, person in contacts.get(fix.assignment_id, []):
            rows.append(
                reminder_row(
                    campaign,
                    account,
                    person,
                    now,
                    kind="reminder",
                    template=template,
                    key=f"fixrem:{fix.shortcoming_id}:{stamp}:{slot.key}:{account}",
                    params={
                        **params,
                        "_buttons": [[button("conclusion.open_tasks", f"kp:{membership}")]],
                    },
                    due=slot.due,
                )
            )
            stats.reminders += 1
    return rows
