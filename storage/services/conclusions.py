"""The team's conclusion on a unit (kết luận kiểm tra): strengths, shortcomings with the
required fix and due date, and issuing the official notice to the unit.

While a conclusion is not issued the leader may change it; issuing freezes it, makes each
shortcoming a remediation task (storage/services/remediation.py) and sends the unit's
contacts the notice document, once (dedupe key per conclusion and chat account).
Services: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from common.localtime import zone
from storage.db.models import (
    Assignment,
    Conclusion,
    Membership,
    Person,
    Role,
    Shortcoming,
    Team,
    Unit,
)
from storage.rules.remediation import fix_due_date
from storage.services import audit
from storage.services.outbox import DOCUMENT_PARAM, button, enqueue_many
from storage.services.recipients import unit_contacts

TEXT_LIMIT = 2000  # one strength text, shortcoming or fix
MAX_SHORTCOMINGS = 50


class ConclusionRefusal(StrEnum):
    ISSUED = "issued"  # an issued conclusion is not changed any more
    EMPTY = "empty"  # nothing to issue: no strengths and no shortcoming
    TOO_MANY = "too_many"


class ConclusionError(Exception):
    def __init__(self, reason: ConclusionRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def conclusion_of(session: AsyncSession, assignment_id: int) -> Conclusion | None:
    return await session.scalar(
        select(Conclusion)
        .where(Conclusion.assignment_id == assignment_id)
        .options(selectinload(Conclusion.shortcomings))
    )


def local_day(now: datetime, tz: str) -> date:
    return now.astimezone(zone(tz)).date()


def default_due(now: datetime, tz: str) -> date:
    """15 days after today (the campaign's local date), off weekends and holidays."""
    return fix_due_date(local_day(now, tz))


async def _draft(
    session: AsyncSession, assignment: Assignment, *, person_id: int, now: datetime
) -> Conclusion:
    conclusion = await conclusion_of(session, assignment.id)
    if conclusion is None:
        conclusion = Conclusion(
            assignment_id=assignment.id, strengths="", concluded_by=person_id, concluded_at=now
        )
        session.add(conclusion)
        await session.flush()
        await session.refresh(conclusion, ["shortcomings"])
    if conclusion.issued_at is not None:
        raise ConclusionError(ConclusionRefusal.ISSUED)
    conclusion.concluded_by, conclusion.concluded_at = person_id, now
    return conclusion


async def set_strengths(
    session: AsyncSession, assignment: Assignment, text: str, *, person_id: int, now: datetime
) -> Conclusion:
    conclusion = await _draft(session, assignment, person_id=person_id, now=now)
    conclusion.strengths = text[:TEXT_LIMIT]
    await audit.record(
        session,
        now=now,
        action="conclusion.strengths",
        campaign_id=assignment.campaign_id,
        actor_id=person_id,
        subject=assignment.unit.code,
    )
    return conclusion


async def add_shortcoming(
    session: AsyncSession,
    assignment: Assignment,
    *,
    text: str,
    fix: str,
    due_on: date,
    person_id: int,
    now: datetime,
) -> Shortcoming:
    conclusion = await _draft(session, assignment, person_id=person_id, now=now)
    if len(conclusion.shortcomings) >= MAX_SHORTCOMINGS:
        raise ConclusionError(ConclusionRefusal.TOO_MANY)
    shortcoming = Shortcoming(
        position=len(conclusion.shortcomings) + 1,
        text=text[:TEXT_LIMIT],
        fix=fix[:TEXT_LIMIT],
        due_on=due_on,
    )
    conclusion.shortcomings.append(shortcoming)
    await session.flush()
    await audit.record(
        session,
        now=now,
        action="conclusion.shortcoming",
        campaign_id=assignment.campaign_id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"shortcoming": shortcoming.id, "due_on": due_on.isoformat()},
    )
    return shortcoming


async def remove_shortcoming(
    session: AsyncSession,
    assignment: Assignment,
    shortcoming_id: int,
    *,
    person_id: int,
    now: datetime,
) -> None:
    conclusion = await _draft(session, assignment, person_id=person_id, now=now)
    kept = [s for s in conclusion.shortcomings if s.id != shortcoming_id]
    for position, shortcoming in enumerate(kept, start=1):
        shortcoming.position = position
    conclusion.shortcomings = kept


async def issue(
    session: AsyncSession,
    assignment: Assignment,
    conclusion: Conclusion,
    document: Path,
    *,
    person_id: int | None,
    actor_label: str = "",
    now: datetime,
) -> int:
    """Issue the conclusion with its written document: freeze it and send the document to
    the unit's contacts. Issuing again sends nothing more. Returns the rows written."""
    if conclusion.issued_at is None:
        if not conclusion.strengths and not conclusion.shortcomings:
            raise ConclusionError(ConclusionRefusal.EMPTY)
        conclusion.issued_at, conclusion.issued_by = now, person_id
    conclusion.document_path = str(document)
    campaign = assignment.campaign
    params = {
        "unit": assignment.unit.name,
        "campaign": campaign.title,
        "count": len(conclusion.shortcomings),
        DOCUMENT_PARAM: {"path": str(document), "name": document.name.split("-", 1)[-1]},
    }
    rows = [
        {
            "dedupe_key": f"conclusion:{conclusion.id}:{to.account_id}",
            "kind": "conclusion",
            "chat_account_id": to.account_id,
            "person_id": to.person_id,
            "campaign_id": campaign.id,
            "template": "conclusion.issued_notice",
            "params": {
                **params,
                "_buttons": [[button("conclusion.open_tasks", f"kp:{to.membership_id}")]],
            },
            "not_before": now,
            "created_at": now,
        }
        for to in await unit_contacts(session, assignment.id)
    ]
    await enqueue_many(session, rows)
    await audit.record(
        session,
        now=now,
        action="conclusion.issue",
        campaign_id=campaign.id,
        actor_id=person_id,
        actor_label=actor_label,
        subject=assignment.unit.code,
        details={"shortcomings": len(conclusion.shortcomings), "document": document.name},
    )
    return len(rows)


async def team_of(session: AsyncSession, assignment: Assignment) -> Team:
    team = await session.get(Team, assignment.team_id)
    assert team is not None  # an assignment always has its team
    return team


async def leader_name(session: AsyncSession, team_id: int) -> str:
    """The first leader's name, for the signature; "" when the team has none yet."""
    name = await session.scalar(
        select(Person.full_name)
        .join(Membership, Membership.person_id == Person.id)
        .where(
            Membership.team_id == team_id,
            Membership.role == Role.TEAM_LEADER.value,
            Membership.revoked_at.is_(None),
        )
        .order_by(Membership.id)
        .limit(1)
    )
    return name or ""


async def assignment_by_codes(
    session: AsyncSession, campaign_id: int, unit_code: str
) -> Assignment | None:
    return await session.scalar(
        select(Assignment)
        .join(Unit, Unit.id == Assignment.unit_id)
        .where(Assignment.campaign_id == campaign_id, func.lower(Unit.code) == unit_code.lower())
    )
