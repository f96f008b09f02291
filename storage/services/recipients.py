"""Who gets a message about a unit or a team: every chat account of the people in a role
there (unreachable accounts are kept: delivery marks them, as for any outbox row)."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import ChatAccount, Membership, Role


class Recipient(NamedTuple):
    account_id: int
    person_id: int
    membership_id: int


async def _accounts(session: AsyncSession, *where: ColumnElement[bool]) -> list[Recipient]:
    rows = await session.execute(
        select(ChatAccount.id, ChatAccount.person_id, Membership.id)
        .join(Membership, Membership.person_id == ChatAccount.person_id)
        .where(Membership.revoked_at.is_(None), *where)
        .order_by(ChatAccount.id)
    )
    return [Recipient(a, p, m) for a, p, m in rows]


async def unit_contacts(session: AsyncSession, assignment_id: int) -> list[Recipient]:
    """The unit's active contacts."""
    return await _accounts(
        session,
        Membership.assignment_id == assignment_id,
        Membership.role == Role.UNIT_CONTACT.value,
    )


async def team_leaders(session: AsyncSession, team_id: int) -> list[Recipient]:
    """The team's active leaders."""
    return await _accounts(
        session, Membership.team_id == team_id, Membership.role == Role.TEAM_LEADER.value
    )
