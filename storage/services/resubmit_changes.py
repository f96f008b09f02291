"""What a unit changed on the items returned for correction, for the resubmission alert:
"1.3: 95.5 → 97" per reopened item (the value when the report went back, the value now)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Answer, AnswerRevision, Item, ReviewFlag

NOTHING = "—"


def shown(value: Any) -> str:
    """A stored answer value as plain text (the alert's params are escaped when rendered)."""
    if value is None or value == "" or value == []:
        return NOTHING
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


async def reopened_changes(session: AsyncSession, submission_id: int) -> list[str]:
    """One line per item still reopened (call before its flags are resolved)."""
    flags = (
        await session.execute(
            select(ReviewFlag.item_id, ReviewFlag.returned_at, Item.code, Answer.id, Answer.value)
            .join(Item, Item.id == ReviewFlag.item_id)
            .outerjoin(
                Answer,
                (Answer.submission_id == ReviewFlag.submission_id)
                & (Answer.item_id == ReviewFlag.item_id),
            )
            .where(
                ReviewFlag.submission_id == submission_id,
                ReviewFlag.returned_at.is_not(None),
                ReviewFlag.resolved_at.is_(None),
            )
            .order_by(Item.position, ReviewFlag.id)
        )
    ).all()
    lines, seen = [], set()
    for item_id, returned_at, code, answer_id, value in flags:
        if item_id in seen:
            continue
        seen.add(item_id)
        before = None
        if answer_id is not None:
            before = await session.scalar(
                select(AnswerRevision.value)
                .where(
                    AnswerRevision.answer_id == answer_id, AnswerRevision.answered_at <= returned_at
                )
                .order_by(AnswerRevision.revision.desc())
                .limit(1)
            )
        lines.append(f"{code}: {shown(before)} → {shown(value)}")
    return lines
