"""When each unit of some teams started and submitted, and how much it has answered: what
the leaders' burn-up chart (handlers/charts.py) draws. One query, whatever the size."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, distinct, func, select
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
    """One grouped query over these teams' reports only (not the whole answers table)."""
    answered = func.count(distinct(case((Answer.value.is_not(None), Answer.id))))
    rows = await session.execute(
        select(
            Submission.status,
            Submission.submitted_at,
            func.min(AnswerRevision.answered_at),
            answered,
        )
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .outerjoin(Answer, Answer.submission_id == Submission.id)
        .outerjoin(AnswerRevision, AnswerRevision.answer_id == Answer.id)
        .where(Assignment.campaign_id == campaign_id, Assignment.team_id.in_(list(team_ids)))
        .group_by(Submission.id, Submission.status, Submission.submitted_at)
    )
    return [
        UnitProgress(
            started_at=started,
            submitted_at=submitted_at if status in DONE else None,
            answered=count or 0,
        )
        for status, submitted_at, started, count in rows
    ]
