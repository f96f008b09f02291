"""The state of a team's units, for leaders: who submitted, who is late, who is missing.

`unit_states` gives each unit's report; `team_summaries` counts them per team with the
names behind the counts (what /summary shows and the timed summaries of
schedules/summaries.py send).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Membership,
    Person,
    Role,
    Submission,
    SubmissionStatus,
    Team,
    Unit,
)

DONE = (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED)


@dataclass(frozen=True)
class UnitState:
    assignment_id: int
    team_id: int
    unit_code: str
    unit_name: str
    status: str
    late: bool
    submitted_at: datetime | None
    deadline: datetime
    self_score: float | None

    def overdue(self, now: datetime) -> bool:
        return self.status not in DONE and now > self.deadline


async def unit_states(
    session: AsyncSession,
    *,
    team_ids: list[int] | None = None,
    campaign_id: int | None = None,
    assignment_id: int | None = None,
) -> list[UnitState]:
    query = (
        select(Assignment, Unit, Submission, Campaign.deadline)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .order_by(Assignment.campaign_id, Assignment.position)
    )
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(team_ids))
    if campaign_id is not None:
        query = query.where(Assignment.campaign_id == campaign_id)
    if assignment_id is not None:
        query = query.where(Assignment.id == assignment_id)
    return [
        UnitState(
            a.id,
            a.team_id,
            u.code,
            u.name,
            s.status,
            s.late,
            s.submitted_at,
            a.deadline or deadline,
            s.self_score,
        )
        for a, u, s, deadline in (await session.execute(query))
    ]


# -- per team ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamSummary:
    """The state of one team's units at one instant. Lists hold display names, in the
    order of the campaign file."""

    team_id: int
    code: str
    name: str
    total: int
    submitted: int  # submitted or accepted
    in_progress: int
    not_started: int
    returned: int
    not_submitted: tuple[str, ...]
    overdue: tuple[str, ...]
    unreachable: tuple[str, ...]  # "contact name (unit name)"
    no_contact: tuple[str, ...]
    accepted: int = 0  # of `submitted`, those the team has accepted

    @property
    def awaiting_review(self) -> int:
        """Submitted and not yet accepted: what the team still has to look at."""
        return self.submitted - self.accepted

    def fingerprint(self) -> str:
        """Equal for equal states (the timed summaries send nothing when nothing changed)."""
        return _digest(json.dumps(asdict(self), ensure_ascii=False, sort_keys=True))


def fingerprint_of(summaries: Iterable[TeamSummary]) -> str:
    """One fingerprint for several teams' states (the admins' view of every team)."""
    return _digest("".join(s.fingerprint() for s in summaries))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class _Contact:
    name: str
    reachable: bool = False  # True when any of the person's accounts is reachable


async def _contacts(session: AsyncSession, campaign_id: int) -> dict[int, list[_Contact]]:
    """Linked contacts of each assignment. A contact counts as unreachable only when every
    chat account they have is (Telegram blocked but Zalo working still reaches them)."""
    rows = await session.execute(
        select(Membership.assignment_id, Person.id, Person.full_name, ChatAccount.unreachable_at)
        .join(Person, Person.id == Membership.person_id)
        .join(ChatAccount, ChatAccount.person_id == Person.id)
        .where(
            Membership.campaign_id == campaign_id,
            Membership.role == Role.UNIT_CONTACT.value,
            Membership.revoked_at.is_(None),
        )
        .order_by(Person.id)
    )
    found: dict[int, dict[int, _Contact]] = defaultdict(dict)
    for assignment_id, person_id, full_name, unreachable_at in rows:
        if assignment_id is None:
            continue
        contact = found[assignment_id].setdefault(person_id, _Contact(full_name or f"#{person_id}"))
        contact.reachable = contact.reachable or unreachable_at is None
    return {aid: list(people.values()) for aid, people in found.items()}


def _summarise(
    team: Team, units: Sequence[UnitState], contacts: Mapping[int, list[_Contact]], now: datetime
) -> TeamSummary:
    statuses = [u.status for u in units]
    return TeamSummary(
        team_id=team.id,
        code=team.code,
        name=team.name,
        total=len(units),
        submitted=sum(s in DONE for s in statuses),
        in_progress=statuses.count(SubmissionStatus.IN_PROGRESS),
        not_started=statuses.count(SubmissionStatus.NOT_STARTED),
        returned=statuses.count(SubmissionStatus.RETURNED),
        not_submitted=tuple(u.unit_name for u in units if u.status not in DONE),
        overdue=tuple(u.unit_name for u in units if u.overdue(now)),
        unreachable=tuple(
            f"{c.name} ({u.unit_name})"
            for u in units
            for c in contacts.get(u.assignment_id, [])
            if not c.reachable
        ),
        no_contact=tuple(u.unit_name for u in units if not contacts.get(u.assignment_id)),
        accepted=statuses.count(SubmissionStatus.ACCEPTED),
    )


async def team_summaries(
    session: AsyncSession, campaign: Campaign, now: datetime
) -> list[TeamSummary]:
    """The state of every team of the campaign at `now`, in team order."""
    teams = list(
        await session.scalars(select(Team).where(Team.campaign_id == campaign.id).order_by(Team.id))
    )
    by_team: dict[int, list[UnitState]] = defaultdict(list)
    for state in await unit_states(session, campaign_id=campaign.id):
        by_team[state.team_id].append(state)
    contacts = await _contacts(session, campaign.id)
    return [_summarise(team, by_team[team.id], contacts, now) for team in teams]
