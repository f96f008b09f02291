"""When each unit of some teams started and submitted, and how much it has answered: what
the leaders' burn-up chart (handlers/charts.py) draws. One query, whatever the size."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Answer, AnswerRevision, Assignment, Submission, SubmissionStatus

DONE = (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED)


@dataclass(frozen=True)
class UnitProgress:
    started_at: datetime | None  # the first answer ever given
    submitted_at: datetime | None  # None unless the report is in (submitted or accepted)
    answered: int  # items with an answer now


async def unit_progress(
    session: AsyncSession, campaign_id: int, team_ids: Collection[int]
) -> list[UnitProgress]:
    first = (
        select(Answer.submission_id, func.min(AnswerRevision.answered_at).label("first"))
        .join(AnswerRevision, AnswerRevision.answer_id == Answer.id)
        .group_by(Answer.submission_id)
        .subquery()
    )
    answered = (
        select(Answer.submission_id, func.count().label("answered"))
        .where(Answer.value.is_not(None))
        .group_by(Answer.submission_id)
        .subquery()
    )
    rows = await session.execute(
        select(Submission.status, Submission.submitted_at, first.c.first, answered.c.answered)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .outerjoin(first, first.c.submission_id == Submission.id)
        .outerjoin(answered, answered.c.submission_id == Submission.id)
        .where(Assignment.campaign_id == campaign_id, Assignment.team_id.in_(list(team_ids)))
    )
    return [
        UnitProgress(
            started_at=started,
            submitted_at=submitted_at if status in DONE else None,
            answered=count or 0,
        )
        for status, submitted_at, started, count in rows
    ]
