"""Planning deadline reminders, overdue repeats, escalations and visit notices.

One pass looks at every open campaign and writes what is due into the outbox; the database
decides (APScheduler only wakes the pass). The rules of *when* live in schedules/timing.py;
this module decides *who* and *what*:

- before / overdue reminders go to every reachable contact of a unit that has not
  submitted (returned reports count as not submitted), saying exactly what is missing;
- an escalation goes once to the team's leaders, listing the overdue units of the team;
- visit notices go to the contacts of units with an announced visit, whatever their report's
  state; an unannounced visit (đột xuất) never produces one.

A pass remembers when it ran (ScheduleMark `reminders:<campaign>`): the next pass only sends
slots that fell due since, and after downtime `timing.due_now` collapses the missed ones
into one current reminder per unit. Dedupe keys include the deadline, so a re-planned slot
is never sent twice while an extended deadline starts a fresh series.

The cost is a fixed number of queries per campaign plus pure work per unit (slots are
computed once per distinct deadline), so a pass grows linearly with the units.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_date, fmt_datetime, zone
from storage.db.models import (
    Answer,
    Assignment,
    Campaign,
    ChatAccount,
    EvidenceFile,
    Item,
    Membership,
    Role,
    ScheduleMark,
    Submission,
    SubmissionStatus,
    Unit,
)
from storage.formats.campaign_spec import ReminderPolicy, policy_from_dict
from storage.rules.timing import Slot, SlotKind, due_now, reminder_slots, visit_slots
from storage.services.outbox import DUE_PARAM, button, enqueue_many
from storage.services.report_gaps import GAPS_PARAM, ReportGaps, gaps_param, report_gaps

DONE = (SubmissionStatus.SUBMITTED.value, SubmissionStatus.ACCEPTED.value)
MAX_UNITS_LISTED = 30


@dataclass
class PlanStats:
    campaigns: int = 0
    units: int = 0
    reminders: int = 0
    escalations: int = 0
    visit_notices: int = 0
    queries: int = 0


@dataclass
class _Unit:
    assignment_id: int
    team_id: int
    submission_id: int
    unit_name: str
    status: str
    deadline: datetime
    visit_at: datetime | None
    visit_place: str | None
    visit_announced: bool
    due: list[Slot] = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.status not in DONE


async def plan_reminders(session: AsyncSession, *, now: datetime) -> PlanStats:
    stats = PlanStats()
    campaigns = list(await session.scalars(select(Campaign).where(Campaign.closed_at.is_(None))))
    stats.queries += 1
    for campaign in campaigns:
        await _plan_campaign(session, campaign, now, stats)
        stats.campaigns += 1
    return stats


async def _plan_campaign(
    session: AsyncSession, campaign: Campaign, now: datetime, stats: PlanStats
) -> None:
    mark = await _mark(session, campaign.id, now)
    last_seen = datetime.fromisoformat(mark.value["at"]) if mark.value.get("at") else None
    policy = policy_from_dict(campaign.policy or {})
    units = await _units(session, campaign)
    stats.queries += 2
    stats.units += len(units)
    _find_due(units, policy, campaign.timezone, now, last_seen)
    due_units = [u for u in units if u.due]
    if due_units:
        contacts = await _contacts(session, campaign.id)
        missing = await _missing(session, campaign.id)
        gaps = await report_gaps(session, campaign.id, (u.submission_id for u in due_units))
        stats.queries += 5
        rows = _unit_rows(campaign, due_units, contacts, missing, gaps, now, stats)
        rows += await _escalation_rows(session, campaign, due_units, now, stats)
        await enqueue_many(session, rows)
    mark.value = {"at": now.isoformat()}
    mark.updated_at = now


async def _mark(session: AsyncSession, campaign_id: int, now: datetime) -> ScheduleMark:
    key = f"reminders:{campaign_id}"
    mark = await session.scalar(select(ScheduleMark).where(ScheduleMark.key == key))
    if mark is None:
        mark = ScheduleMark(key=key, value={}, updated_at=now)
        session.add(mark)
    return mark


async def _units(session: AsyncSession, campaign: Campaign) -> list[_Unit]:
    connection = await session.connection()  # Core rows: no ORM bookkeeping per unit
    rows = await connection.execute(
        select(
            Assignment.id,
            Assignment.team_id,
            Submission.id,
            Unit.name,
            Submission.status,
            Assignment.deadline,
            Assignment.visit_at,
            Assignment.visit_place,
            Assignment.visit_announced,
        )
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .where(Assignment.campaign_id == campaign.id)
        .order_by(Assignment.position)
    )
    return [
        _Unit(
            aid, team, sid, name, status, deadline or campaign.deadline, visit_at, place, announced
        )
        for aid, team, sid, name, status, deadline, visit_at, place, announced in rows
    ]


def _find_due(
    units: list[_Unit], policy: ReminderPolicy, tz: str, now: datetime, last_seen: datetime | None
) -> None:
    deadline_slots: dict[datetime, list[Slot]] = {}
    visits: dict[tuple[datetime, bool], list[Slot]] = {}
    for unit in units:
        slots: list[Slot] = []
        if unit.pending:
            if unit.deadline not in deadline_slots:
                deadline_slots[unit.deadline] = reminder_slots(unit.deadline, policy, tz)
            slots += deadline_slots[unit.deadline]
        if unit.visit_at is not None:
            key = (unit.visit_at, unit.visit_announced)
            if key not in visits:
                visits[key] = visit_slots(
                    unit.visit_at, announced=unit.visit_announced, policy=policy, tz=tz
                )
            slots += visits[key]
        unit.due = due_now(slots, now, last_seen) if slots else []


@dataclass(frozen=True)
class _Recipient:
    account_id: int
    person_id: int
    membership_id: int


async def _contacts(session: AsyncSession, campaign_id: int) -> dict[int, list[_Recipient]]:
    """Reachable chat accounts of each unit's contacts, with the membership they act in.
    Plain columns, not ORM objects: a pass may touch tens of thousands of them."""
    connection = await session.connection()
    rows = await connection.execute(
        select(Membership.assignment_id, Membership.id, ChatAccount.id, ChatAccount.person_id)
        .join(ChatAccount, ChatAccount.person_id == Membership.person_id)
        .where(
            Membership.campaign_id == campaign_id,
            Membership.role == Role.UNIT_CONTACT.value,
            Membership.revoked_at.is_(None),
            ChatAccount.unreachable_at.is_(None),
        )
        .order_by(ChatAccount.id)
    )
    found: dict[int, list[_Recipient]] = defaultdict(list)
    for assignment_id, membership_id, account_id, person_id in rows:
        if assignment_id is not None:
            found[assignment_id].append(_Recipient(account_id, person_id, membership_id))
    return found


@dataclass(frozen=True)
class _Missing:
    total: int
    unanswered: int
    no_evidence: int


@dataclass(frozen=True)
class _MissingTable:
    total: int
    answered: dict[int, int]
    lacking: dict[int, int]

    def get(self, submission_id: int) -> _Missing:
        answered = int(self.answered.get(submission_id, 0))
        return _Missing(self.total, self.total - answered, int(self.lacking.get(submission_id, 0)))


async def _missing(session: AsyncSession, campaign_id: int) -> _MissingTable:
    """What each report of the campaign still lacks: unanswered items and answered items
    whose required evidence is neither attached nor explained (the rule of
    rules/progress.py). Filtered by campaign, not by a list of ids: an IN list of 50,000
    ids is past PostgreSQL's parameter limit."""
    total = int(
        await session.scalar(
            select(func.count()).select_from(Item).where(Item.campaign_id == campaign_id)
        )
        or 0
    )
    in_campaign = (
        select(Submission.id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.campaign_id == campaign_id, Submission.status.not_in(DONE))
    )
    answered = dict(
        (
            await session.execute(
                select(Answer.submission_id, func.count())
                .where(Answer.submission_id.in_(in_campaign), Answer.value.is_not(None))
                .group_by(Answer.submission_id)
            )
        ).all()
    )
    has_file = exists().where(
        and_(
            EvidenceFile.submission_id == Answer.submission_id,
            EvidenceFile.item_id == Answer.item_id,
            EvidenceFile.removed_at.is_(None),
        )
    )
    lacking = dict(
        (
            await session.execute(
                select(Answer.submission_id, func.count())
                .join(Item, Item.id == Answer.item_id)
                .where(
                    Answer.submission_id.in_(in_campaign),
                    Answer.value.is_not(None),
                    Item.evidence == "required",
                    Answer.note.is_(None),
                    ~has_file,
                )
                .group_by(Answer.submission_id)
            )
        ).all()
    )
    return _MissingTable(total, answered, lacking)


def _unit_rows(
    campaign: Campaign,
    units: list[_Unit],
    contacts: dict[int, list[_Recipient]],
    missing: _MissingTable,
    gaps: dict[int, ReportGaps],
    now: datetime,
    stats: PlanStats,
) -> list[dict[str, Any]]:
    rows = []
    for unit in units:
        for slot in unit.due:
            if slot.kind == SlotKind.ESCALATE:
                continue  # to the team, see _escalation_rows
            template, params = _message(campaign, unit, slot, missing.get(unit.submission_id))
            gap = gaps.get(unit.submission_id) if slot.kind in _REPORT_SLOTS else None
            if gap is not None:
                params[GAPS_PARAM] = gaps_param(gap)
            for to in contacts.get(unit.assignment_id, []):
                rows.append(
                    reminder_row(
                        campaign,
                        to.account_id,
                        to.person_id,
                        now,
                        kind="reminder",
                        template=template,
                        key=f"rem:{unit.assignment_id}:{int(unit.deadline.timestamp())}:"
                        f"{slot.key}:{to.account_id}",
                        params={
                            **params,
                            "_buttons": [[_continue_button(to.membership_id, gap)]],
                        },
                        due=slot.due,
                    )
                )
                if slot.kind in (SlotKind.VISIT_NOTICE, SlotKind.VISIT_EVE):
                    stats.visit_notices += 1
                else:
                    stats.reminders += 1
    return rows


_REPORT_SLOTS = (SlotKind.BEFORE, SlotKind.DUE, SlotKind.OVERDUE)


def _continue_button(membership_id: int, gap: ReportGaps | None) -> dict[str, str]:
    """Straight to the first item still missing, when there is one."""
    first = gap.first if gap is not None else None
    if first is None:
        return button("reminders.continue", f"pick:{membership_id}")
    return button("edges.jump_first", f"pick:{membership_id}:{first.item_id}")


def _message(
    campaign: Campaign, unit: _Unit, slot: Slot, missing: _Missing | None
) -> tuple[str, dict[str, Any]]:
    tz = campaign.timezone
    params: dict[str, Any] = {
        "unit": unit.unit_name,
        "campaign": campaign.title,
        "deadline": fmt_datetime(unit.deadline, tz),
    }
    if slot.kind in (SlotKind.VISIT_NOTICE, SlotKind.VISIT_EVE):
        assert unit.visit_at is not None
        local = unit.visit_at.astimezone(zone(tz))
        params.update(
            date=fmt_date(unit.visit_at, tz),
            time=local.strftime("%H:%M"),
            place=unit.visit_place or "",
        )
        return f"reminders.{slot.kind.value}", params
    gap = missing or _Missing(0, 0, 0)
    params.update(unanswered=gap.unanswered, total=gap.total, no_evidence=gap.no_evidence)
    kind = "overdue" if slot.kind == SlotKind.OVERDUE else "before"
    ready = gap.unanswered == 0 and gap.no_evidence == 0
    if slot.kind == SlotKind.DUE:
        return f"edges.due_now{'_ready' if ready else ''}", params
    return f"reminders.{kind}{'_ready' if ready else ''}", params


def reminder_row(
    campaign: Campaign,
    account_id: int,
    person_id: int,
    now: datetime,
    *,
    kind: str,
    template: str,
    key: str,
    params: dict[str, Any],
    due: datetime,
) -> dict[str, Any]:
    """One outbox row of a timed message (report reminders here, fix reminders in
    fix_reminders.py). `due`: when the slot fell due (<= now). It orders delivery
    (not_before) and is the time the message carries, so a pass after a clock jump sends
    them as they fell due."""
    return {
        "dedupe_key": key,
        "kind": kind,
        "chat_account_id": account_id,
        "person_id": person_id,
        "campaign_id": campaign.id,
        "template": template,
        "params": {**params, DUE_PARAM: due.isoformat()},
        "not_before": due,
        "created_at": now,
    }


async def _escalation_rows(
    session: AsyncSession,
    campaign: Campaign,
    units: Iterable[_Unit],
    now: datetime,
    stats: PlanStats,
) -> list[dict[str, Any]]:
    """One message per team leader listing the team's units escalated in this pass."""
    by_team: dict[int, list[_Unit]] = defaultdict(list)
    for unit in units:
        if unit.pending and any(s.kind == SlotKind.ESCALATE for s in unit.due):
            by_team[unit.team_id].append(unit)
    if not by_team:
        return []
    leaders = await session.execute(
        select(Membership.team_id, ChatAccount.id, ChatAccount.person_id)
        .join(ChatAccount, ChatAccount.person_id == Membership.person_id)
        .where(
            Membership.team_id.in_(list(by_team)),
            Membership.role == Role.TEAM_LEADER.value,
            Membership.revoked_at.is_(None),
            ChatAccount.unreachable_at.is_(None),
        )
    )
    stats.queries += 1
    rows = []
    for team_id, account_id, person_id in leaders:
        if team_id is None:
            continue
        team_units = by_team[team_id]
        names = [u.unit_name for u in team_units[:MAX_UNITS_LISTED]]
        more = len(team_units) - len(names)
        listing = "\n".join(f"• {n}" for n in names) + (f"\n(+{more})" if more > 0 else "")
        # The same set of escalated units is announced once, however often it is planned.
        units_key = hashlib.sha1(
            ",".join(str(u.assignment_id) for u in team_units).encode(), usedforsecurity=False
        ).hexdigest()[:16]
        rows.append(
            reminder_row(
                campaign,
                account_id,
                person_id,
                now,
                kind="escalation",
                template="reminders.escalation",
                key=f"esc:{campaign.id}:{team_id}:{units_key}:{account_id}",
                params={"campaign": campaign.title, "count": len(team_units), "units": listing},
                due=max(s.due for u in team_units for s in u.due if s.kind == SlotKind.ESCALATE),
            )
        )
        stats.escalations += 1
    return rows
