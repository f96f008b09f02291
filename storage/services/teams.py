"""Reading a campaign's teams (the audiences a leader may pick, a team found by its code)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Team


async def campaign_teams(session: AsyncSession, campaign_id: int) -> list[Team]:
    """The campaign's teams, by code."""
    return list(
        await session.scalars(
            select(Team).where(Team.campaign_id == campaign_id).order_by(Team.code)
        )
    )


async def team_id_by_code(session: AsyncSession, campaign_id: int, code: str) -> int | None:
    """The id of the campaign's team with exactly this code, None when there is none."""
    return await session.scalar(
        select(Team.id).where(Team.campaign_id == campaign_id, Team.code == code)
    )
