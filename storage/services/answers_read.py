"""Reading a unit's report as the team sees it: the answers, the evidence files, the report
a file or a question belongs to. Writing answers and files is storage/services/submissions.py.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Answer, EvidenceFile, Submission


async def answers_by_item(session: AsyncSession, submission_id: int) -> dict[int, Answer]:
    """The report's answers (with who gave them and when), by item id."""
    return {
        a.item_id: a
        for a in await session.scalars(select(Answer).where(Answer.submission_id == submission_id))
    }


async def evidence_files(session: AsyncSession, submission_id: int) -> list[EvidenceFile]:
    """The report's evidence files not removed, by item, then in the order received."""
    return list(
        await session.scalars(
            select(EvidenceFile)
            .where(EvidenceFile.submission_id == submission_id, EvidenceFile.removed_at.is_(None))
            .order_by(EvidenceFile.item_id, EvidenceFile.id)
        )
    )


async def evidence_counts(session: AsyncSession, submission_id: int) -> dict[int, int]:
    """How many evidence files (not removed) each item of the report has; items with none
    are left out."""
    return dict(
        Counter(
            await session.scalars(
                select(EvidenceFile.item_id).where(
                    EvidenceFile.submission_id == submission_id, EvidenceFile.removed_at.is_(None)
                )
            )
        )
    )


async def evidence_file(session: AsyncSession, evidence_id: int) -> EvidenceFile | None:
    return await session.get(EvidenceFile, evidence_id)


async def submission_assignment_id(session: AsyncSession, submission_id: int) -> int | None:
    """The assignment (unit of a campaign) a report belongs to; None for an unknown report.
    A report already in the session costs no query."""
    submission = await session.get(Submission, submission_id)
    return submission.assignment_id if submission is not None else None
