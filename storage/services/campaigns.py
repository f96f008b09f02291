"""Reading campaigns: found by code or id, the open ones, and the list and overview shown by
`campaign list` / `campaign show`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Campaign, Invite, Item, Membership, Submission, Team
from storage.rules.scoring import is_by_hand


@dataclass
class CampaignOverview:
    campaign: Campaign
    units: int = 0
    items: int = 0
    teams: list[tuple[str, str, int]] = field(default_factory=list)  # code, name, units
    statuses: dict[str, int] = field(default_factory=dict)
    late: int = 0
    invites_total: int = 0
    invites_used: int = 0
    people: int = 0
    by_hand: list[str] = field(default_factory=list)  # codes of items scored by hand


async def get_campaign(session: AsyncSession, code: str) -> Campaign | None:
    return await session.scalar(select(Campaign).where(Campaign.code == code))


async def campaign_by_id(session: AsyncSession, campaign_id: int) -> Campaign | None:
    return await session.get(Campaign, campaign_id)


async def open_campaigns(
    session: AsyncSession, *, of_teams: Collection[int] | None = None
) -> list[Campaign]:
    """The campaigns not closed, oldest first; with `of_teams`, only those one of these
    teams belongs to."""
    query = select(Campaign).where(Campaign.closed_at.is_(None)).order_by(Campaign.created_at)
    if of_teams is not None:
        query = query.where(
            Campaign.id.in_(select(Team.campaign_id).where(Team.id.in_(sorted(of_teams))))
        )
    return list(await session.scalars(query))


async def list_campaigns(session: AsyncSession) -> list[CampaignOverview]:
    campaigns = await session.scalars(select(Campaign).order_by(Campaign.created_at))
    return [await overview(session, campaign) for campaign in campaigns]


async def _count(session: AsyncSession, query: object) -> int:
    return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def overview(session: AsyncSession, campaign: Campaign) -> CampaignOverview:
    cid = campaign.id
    result = CampaignOverview(campaign=campaign)
    result.units = await _count(
        session, select(func.count()).select_from(Assignment).where(Assignment.campaign_id == cid)
    )
    result.items = await _count(
        session, select(func.count()).select_from(Item).where(Item.campaign_id == cid)
    )
    checklist = await session.scalars(
        select(Item).where(Item.campaign_id == cid).order_by(Item.position)
    )
    result.by_hand = [item.code for item in checklist if is_by_hand(item)]
    team_rows = await session.execute(
        select(Team.code, Team.name, func.count(Assignment.id))
        .outerjoin(Assignment, Assignment.team_id == Team.id)
        .where(Team.campaign_id == cid)
        .group_by(Team.id, Team.code, Team.name)
        .order_by(Team.code)
    )
    result.teams = [(code, name, int(n)) for code, name, n in team_rows]
    status_rows = await session.execute(
        select(Submission.status, func.count(), func.sum(case((Submission.late, 1), else_=0)))
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .where(Assignment.campaign_id == cid)
        .group_by(Submission.status)
    )
    for status, count, late in status_rows:
        result.statuses[status] = int(count)
        result.late += int(late or 0)
    result.invites_total = await _count(
        session,
        select(func.count())
        .select_from(Invite)
        .where(Invite.campaign_id == cid, Invite.revoked_at.is_(None)),
    )
    result.invites_used = await _count(
        session,
        select(func.count())
        .select_from(Invite)
        .where(Invite.campaign_id == cid, Invite.used_at.is_not(None)),
    )
    result.people = await _count(
        session,
        select(func.count(func.distinct(Membership.person_id))).where(
            Membership.campaign_id == cid, Membership.revoked_at.is_(None)
        ),
    )
    return result


def effective_deadline(assignment: Assignment, campaign: Campaign) -> datetime:
    return assignment.deadline or campaign.deadline
