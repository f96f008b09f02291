"""Carry-over to the next year: a campaign that follows up an earlier one (`follow_up:` in
its campaign file) shows each unit the earlier campaign's shortcomings, open and closed,
and may answer an item with the unit's remediation rate there
(`answer_from: remediation_rate`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Assignment,
    Campaign,
    CampaignFollowUp,
    Conclusion,
    FixStatus,
    Shortcoming,
    Submission,
    SubmissionStatus,
)
from storage.formats.campaign_spec import AnswerSource
from storage.rules.remediation import remediation_rate
from storage.services.checklist import Checklist
from storage.services.submissions import answer_states, record_answer

REMEDIATION_RATE = AnswerSource.REMEDIATION_RATE.value


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


async def prefill(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    *,
    person_id: int,
    now: datetime,
) -> list[str]:
    """Answer the items with `answer_from: remediation_rate` that have no answer yet, from
    the unit's rate in the earlier campaign (scored by the item's own rule like any answer).
    Only while the report is being written; returns the codes answered."""
    if submission.status not in (SubmissionStatus.NOT_STARTED, SubmissionStatus.IN_PROGRESS):
        return []
    assignment = await session.get(Assignment, submission.assignment_id)
    link = await follow_up_of(session, assignment.campaign_id) if assignment else None
    if link is None or not link.answer_from:
        return []
    states = await answer_states(session, submission.id)
    todo = [
        item
        for code, source in link.answer_from.items()
        if source == REMEDIATION_RATE
        and (item := next((i for i in checklist.items if i.code == code), None)) is not None
        and (item.id not in states or states[item.id].value is None)
    ]
    if not todo:
        return []
    rate = await earlier_rate(session, submission.assignment_id)
    if rate is None:
        return []
    for item in todo:
        await record_answer(session, submission, item, rate, person_id=person_id, now=now)
    return [item.code for item in todo]
