"""The state of a team's units, for leaders: who submitted, who is late, who is missing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Campaign, Submission, SubmissionStatus, Unit

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
        UnitState(a.id, a.team_id, u.code, u.name, s.status, s.late, s.submitted_at,
                  a.deadline or deadline, s.self_score)
        for a, u, s, deadline in (await session.execute(query))
    ]
