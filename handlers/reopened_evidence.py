"""A reopened item takes evidence even when its policy is "none": the team's comment on a
return for correction often asks for a document ("chưa có báo cáo chứng minh"), and the
unit must be able to send it in the same chat rather than be told the item takes no files.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Turn
from handlers.unit import UnitContext
from storage.db.models import Submission, SubmissionStatus
from storage.services.checklist import ItemInfo
from storage.services.submissions import reopened_items


async def accepts_evidence(turn: Turn, ctx: UnitContext, item: ItemInfo) -> bool:
    return await takes_evidence(turn.session, ctx.submission, item)


async def takes_evidence(session: AsyncSession, submission: Submission, item: ItemInfo) -> bool:
    """The same rule for a console request (no chat turn)."""
    if item.evidence != "none":
        return True
    if submission.status != SubmissionStatus.RETURNED:
        return False
    return item.id in await reopened_items(session, submission.id)
