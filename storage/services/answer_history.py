"""The earlier values of a report's answers (every change is kept as an AnswerRevision):
what the desk console shows under each item as its history."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Answer, AnswerRevision


async def earlier_revisions(
    session: AsyncSession, submission_id: int
) -> dict[int, list[AnswerRevision]]:
    """By item id, the revisions before the current answer, newest first (items never
    changed are left out). One statement for the whole report."""
    rows = await session.execute(
        select(Answer.item_id, AnswerRevision)
        .join(AnswerRevision, AnswerRevision.answer_id == Answer.id)
        .where(Answer.submission_id == submission_id, AnswerRevision.revision < Answer.revision)
        .order_by(Answer.item_id, AnswerRevision.revision.desc())
    )
    found: dict[int, list[AnswerRevision]] = {}
    for item_id, revision in rows:
        found.setdefault(item_id, []).append(revision)
    return found
