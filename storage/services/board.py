"""The campaign board of the desk console: one row per unit, a page at a time.

A page is ONE statement: the units with their report, answered-item count, last activity
and reachability as correlated subqueries, and the filtered total as a window count, so
8,000 units cost one indexed query per page. The counts at the top are a second,
grouped statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Answer,
    Assignment,
    Campaign,
    ChatAccount,
    Item,
    Membership,
    Role,
    Submission,
    SubmissionStatus,
    Team,
    Unit,
)

PAGE_SIZE = 50


class BoardStatus(StrEnum):
    """What the board shows: the report's status, with "submitted" split on time / late."""

    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    LATE = "late"
    RETURNED = "returned"
    ACCEPTED = "accepted"


class BoardSort(StrEnum):
    POSITION = "position"
    UNIT = "unit"
    DEADLINE = "deadline"
    ACTIVITY = "activity"
    ANSWERED = "answered"


@dataclass(frozen=True)
class BoardRow:
    assignment_id: int
    unit_code: str
    unit_name: str
    team_code: str
    status: BoardStatus
    answered: int
    items: int
    deadline: datetime
    last_activity: datetime | None
    reachable: bool


@dataclass(frozen=True)
class BoardPage:
    rows: list[BoardRow]
    matching: int  # units matching the filter, over all pages
    page: int
    pages: int


def shown_status() -> ColumnElement[str]:
    return case(
        (
            Submission.status == SubmissionStatus.SUBMITTED.value,
            case((Submission.late, BoardStatus.LATE.value), else_=BoardStatus.SUBMITTED.value),
        ),
        else_=Submission.status,
    )


def _scoped(
    query: Select[*tuple[Any, ...]], campaign_id: int, team_ids: frozenset[int] | None
) -> Select[*tuple[Any, ...]]:
    query = query.where(Assignment.campaign_id == campaign_id)
    if team_ids is not None:
        query = query.where(Assignment.team_id.in_(team_ids))
    return query


async def board_page(
    session: AsyncSession,
    campaign_id: int,
    *,
    team_ids: frozenset[int] | None,
    status: BoardStatus | None = None,
    search: str = "",
    sort: BoardSort = BoardSort.POSITION,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> BoardPage:
    """One page of the board; `team_ids` None shows every team (admins)."""
    answered = (
        select(func.count(Answer.id))
        .where(Answer.submission_id == Submission.id, Answer.value.is_not(None))
        .scalar_subquery()
    )
    items = select(func.count(Item.id)).where(Item.campaign_id == campaign_id).scalar_subquery()
    last = (
        select(func.max(Answer.answered_at))
        .where(Answer.submission_id == Submission.id)
        .scalar_subquery()
    )
    reachable = exists(
        select(Membership.id)
        .join(ChatAccount, ChatAccount.person_id == Membership.person_id)
        .where(
            Membership.assignment_id == Assignment.id,
            Membership.role == Role.UNIT_CONTACT.value,
            Membership.revoked_at.is_(None),
            ChatAccount.unreachable_at.is_(None),
        )
    )
    deadline = func.coalesce(Assignment.deadline, Campaign.deadline)
    shown = shown_status()
    query = _scoped(
        select(
            Assignment.id,
            Unit.code,
            Unit.name,
            Team.code,
            shown,
            answered,
            items,
            deadline,
            func.coalesce(last, Submission.submitted_at),
            reachable,
            func.count().over(),
        )
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Team, Team.id == Assignment.team_id)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .join(Submission, Submission.assignment_id == Assignment.id),
        campaign_id,
        team_ids,
    )
    if status is not None:
        query = query.where(shown == status.value)
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            or_(func.lower(Unit.name).like(pattern), func.lower(Unit.code).like(pattern))
        )
    order = {
        BoardSort.POSITION: (Assignment.position,),
        BoardSort.UNIT: (Unit.name,),
        BoardSort.DEADLINE: (deadline, Assignment.position),
        BoardSort.ACTIVITY: (last.desc().nulls_last(), Assignment.position),
        BoardSort.ANSWERED: (answered.desc(), Assignment.position),
    }[sort]
    page = max(1, page)
    query = query.order_by(*order, Assignment.id).limit(page_size).offset((page - 1) * page_size)
    result = (await session.execute(query)).all()
    matching = result[0][-1] if result else 0
    rows = [
        BoardRow(r[0], r[1], r[2], r[3], BoardStatus(r[4]), r[5], r[6], r[7], r[8], bool(r[9]))
        for r in result
    ]
    pages = max(1, -(-matching // page_size))
    return BoardPage(rows, matching, page, pages)


async def board_counts(
    session: AsyncSession, campaign_id: int, *, team_ids: frozenset[int] | None
) -> dict[BoardStatus, int]:
    """How many units are in each status (the counts at the top of the board)."""
    shown = shown_status()
    query = _scoped(
        select(shown, func.count())
        .select_from(Assignment)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .group_by(shown),
        campaign_id,
        team_ids,
    )
    found = {BoardStatus(s): n for s, n in (await session.execute(query)).all()}
    return {s: found.get(s, 0) for s in BoardStatus}


async def campaigns_by_id(session: AsyncSession, ids: frozenset[int] | None) -> list[Campaign]:
    """Campaigns, newest first; `ids` None: all of them (admins)."""
    query = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    if ids is not None:
        query = query.where(Campaign.id.in_(ids))
    return list(await session.scalars(query))
