"""Self-scores (tự chấm) of the items scored by hand: what the unit proposes, with a reason.

Services: the caller owns the transaction. Whether the report may still change is the
caller's check (storage.services.submissions.edit_refusal), the same as for an answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import SelfScore, Submission
from storage.services.checklist import ItemInfo

REASON_LIMIT = 500


async def self_scores(session: AsyncSession, submission_id: int) -> dict[int, SelfScore]:
    """Item id -> the unit's self-score row, for the items scored by hand it has scored."""
    rows = await session.scalars(select(SelfScore).where(SelfScore.submission_id == submission_id))
    return {row.item_id: row for row in rows}


async def hand_scores(session: AsyncSession, submission_id: int) -> dict[int, float]:
    """Item id -> self-score, as storage.rules.progress.compute_progress takes them."""
    return {k: v.score for k, v in (await self_scores(session, submission_id)).items()}


async def record_self_score(
    session: AsyncSession,
    submission: Submission,
    item: ItemInfo,
    value: float,
    reason: str,
    *,
    person_id: int,
    now: datetime,
) -> SelfScore:
    """Set (or change) the self-score of one item; the value was checked by the caller
    against the item's points and the campaign's step (storage.rules.self_score)."""
    row = await session.scalar(
        select(SelfScore).where(
            SelfScore.submission_id == submission.id, SelfScore.item_id == item.id
        )
    )
    if row is None:
        row = SelfScore(submission_id=submission.id, item_id=item.id, score=value)
        session.add(row)
    row.score, row.reason = value, reason[:REASON_LIMIT]
    row.scored_by, row.scored_at = person_id, now
    submission.updated_at = now
    submission.version += 1
    await session.flush()
    return row
