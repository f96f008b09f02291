"""Carry-over to the next year: a campaign that follows up an earlier one (`follow_up:` in
its campaign file) shows each unit the earlier campaign's shortcomings, open and closed,
and may answer an item with the unit's remediation rate there
(`answer_from: remediation_rate`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Assignment,
    Campaign,
    CampaignFollowUp,
    Conclusion,
    FixStatus,
    Shortcoming,
)
from storage.rules.remediation import remediation_rate

REMEDIATION_RATE = "remediation_rate"
ANSWER_SOURCES = frozenset({REMEDIATION_RATE})


async def follow_up_of(session: AsyncSession, campaign_id: int) -> CampaignFollowUp | None:
    return await session.get(CampaignFollowUp, campaign_id)


async def earlier_tasks(
    session: AsyncSession, assignment_id: int
) -> tuple[str, list[Shortcoming]] | None:
    """The earlier campaign's title and this unit's shortcomings there (issued ones), or
    None when the unit's campaign follows up none or the unit had no conclusion there."""
    assignment = await session.get(Assignment, assignment_id)
    if assignment is None:
        return None
    link = await follow_up_of(session, assignment.campaign_id)
    if link is None:
        return None
    rows = list(
        await session.scalars(
            select(Shortcoming)
            .join(Conclusion, Conclusion.id == Shortcoming.conclusion_id)
            .join(Assignment, Assignment.id == Conclusion.assignment_id)
            .where(
                Assignment.campaign_id == link.earlier_campaign_id,
                Assignment.unit_id == assignment.unit_id,
                Conclusion.issued_at.is_not(None),
            )
            .order_by(Shortcoming.position)
        )
    )
    if not rows:
        return None
    earlier = await session.get(Campaign, link.earlier_campaign_id)
    return (earlier.title if earlier else "", rows)


async def earlier_rate(session: AsyncSession, assignment_id: int) -> float | None:
    """The unit's remediation rate in the earlier campaign (percent), None without one."""
    found = await earlier_tasks(session, assignment_id)
    if found is None:
        return None
    tasks = found[1]
    return remediation_rate(sum(1 for s in tasks if s.status == FixStatus.FIXED), len(tasks))
