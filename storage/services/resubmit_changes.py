"""What a unit changed on the items returned for correction, for the resubmission alert:
"1.3: 95,5% → 97%" per reopened item (the value when the report went back, the value now).

The alert is rendered in each recipient's language at delivery, so the outbox row keeps the
raw values (`CHANGES_PARAM`) and `changes_text` writes them as that reader reads answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Answer, AnswerRevision, Item, ReviewFlag
from storage.rules.answers import Translate, format_value

NOTHING = "—"
CHANGES_PARAM = "_changes"  # [{"code", "type", "before", "after"}, ...] in the outbox row


@dataclass(frozen=True)
class _Kind:
    """Just enough of an item for `format_value` (bounds and options do not change it)."""

    type: str
    options: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None


def shown(kind: str, value: Any, tr: Translate) -> str:
    """A stored answer value as plain text (the alert's params are escaped when rendered)."""
    if value is None or value == "" or value == []:
        return NOTHING
    return format_value(_Kind(kind), value, tr)


def changes_text(changes: Any, tr: Translate) -> str:
    """The `CHANGES_PARAM` list as lines "code: old → new", in the reader's formats."""
    lines = (
        [
            f"{c.get('code')}: {shown(c.get('type', ''), c.get('before'), tr)}"
            f" → {shown(c.get('type', ''), c.get('after'), tr)}"
            for c in changes
            if isinstance(c, dict)
        ]
        if isinstance(changes, list)
        else []
    )
    return "\n".join(lines) or NOTHING


async def reopened_changes(session: AsyncSession, submission_id: int) -> list[dict[str, Any]]:
    """One entry per item still reopened (call before its flags are resolved)."""
    flags = (
        await session.execute(
            select(
                ReviewFlag.item_id,
                ReviewFlag.returned_at,
                Item.code,
                Item.type,
                Answer.id,
                Answer.value,
            )
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
    lines: list[dict[str, Any]] = []
    seen = set()
    for item_id, returned_at, code, kind, answer_id, value in flags:
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
        lines.append({"code": code, "type": kind, "before": before, "after": value})
    return lines
