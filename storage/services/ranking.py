"""The ranking of a campaign's units by appraised score (xếp hạng), for /summary, the
export and the console. Ranks are computed among the units the viewer may see (a team's
leader sees the ranking of the team's units; an admin the whole campaign), so a ranking
never tells anything of another team's units.

The appraised score is `submissions.appraised_score`, kept current by accepting, appraising
and both rounds; a unit without one (not accepted nor appraised yet) is listed unranked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import AppraisalRound, Assignment, Explanation, Submission, Team, Unit
from storage.rules.ranking import rank_units


@dataclass(frozen=True)
class RankRow:
    assignment_id: int
    unit_code: str
    unit_name: str
    team_name: str
    score: float | None  # appraised
    maximum: float
    percent: float | None  # of the maximum, two decimals
    rank: int | None
    tied: bool  # another unit shares the rank
    final: bool  # the appraisal is final (round 2 done, or nothing left to decide)


_PENDING = (
    select(func.count(Explanation.id))
    .where(Explanation.submission_id == Submission.id, Explanation.round2_score.is_(None))
    .correlate(Submission)
    .scalar_subquery()
)


async def campaign_ranking(
    session: AsyncSession,
    campaign_id: int,
    maximum: float,
    now: datetime,
    team_ids: Collection[int] | None = None,
) -> list[RankRow]:
    """Best first; ties share a rank ("1, 2, 2, 4"); units without a score come last."""
    query = (
        select(
            Assignment.id,
            Unit.code,
            Unit.name,
            Team.name,
            Submission.appraised_score,
            AppraisalRound.final_at,
            AppraisalRound.explain_until,
            AppraisalRound.explanations_sent_at,
            _PENDING,
        )
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Team, Team.id == Assignment.team_id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .outerjoin(AppraisalRound, AppraisalRound.submission_id == Submission.id)
        .where(Assignment.campaign_id == campaign_id)
    )
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(list(team_ids)))
    rows = {}
    for a_id, code, name, team, score, final_at, until, sent, pending in await session.execute(
        query
    ):
        closed = until is not None and (sent is not None or now > until)
        final = final_at is not None or (closed and not pending)
        rows[code] = (a_id, name, team, score, final)
    ranked = rank_units(
        [
            (code, row[3] or 0.0, maximum if row[3] is not None else 0.0)
            for code, row in rows.items()
        ]
    )
    result = []
    for place in ranked:
        a_id, name, team, score, final = rows[place.unit]
        result.append(
            RankRow(
                a_id,
                place.unit,
                name,
                team,
                score,
                maximum,
                place.percent,
                place.rank,
                place.tied,
                final and score is not None,
            )
        )
    return result
