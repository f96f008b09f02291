"""The board's progress chart: how many units of each team are in each board status.

One grouped statement (the board's own status expression), so the chart costs the same
for 8,000 units as the counts at the top of the board.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Submission, Team
from storage.services.board import BoardStatus, shown_status


@dataclass(frozen=True)
class TeamBar:
    team_id: int
    code: str
    name: str
    counts: dict[BoardStatus, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Submitted (on time or late) or accepted: "x/y đã nộp"."""
        return sum(
            self.counts[s] for s in (BoardStatus.SUBMITTED, BoardStatus.LATE, BoardStatus.ACCEPTED)
        )


async def teams_of_campaign(
    session: AsyncSession, campaign_id: int, team_ids: frozenset[int] | None
) -> list[Team]:
    """The campaign's teams a person may filter by (None: every team, for admins)."""
    query = select(Team).where(Team.campaign_id == campaign_id).order_by(Team.id)
    if team_ids is not None:
        query = query.where(Team.id.in_(team_ids))
    return list(await session.scalars(query))


async def team_bars(
    session: AsyncSession, campaign_id: int, team_ids: frozenset[int] | None
) -> list[TeamBar]:
    """One bar per team (in team order), split by board status."""
    teams = await teams_of_campaign(session, campaign_id, team_ids)
    shown = shown_status()
    query = (
        select(Assignment.team_id, shown, func.count())
        .select_from(Assignment)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .where(Assignment.campaign_id == campaign_id)
        .group_by(Assignment.team_id, shown)
    )
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(team_ids))
    counts: dict[int, dict[BoardStatus, int]] = {t.id: dict.fromkeys(BoardStatus, 0) for t in teams}
    for team_id, status, number in await session.execute(query):
        if team_id in counts:
            counts[team_id][BoardStatus(status)] = number
    return [TeamBar(t.id, t.code, t.name, counts[t.id]) for t in teams]
