"""People and their chat accounts, found or created from whoever writes to the bot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Membership,
    Person,
    Role,
    Team,
    Unit,
)


async def account_for(
    session: AsyncSession,
    *,
    platform: str,
    user_id: str,
    chat_id: str,
    display_name: str,
    username: str | None,
    language_hint: str | None,
    now: datetime,
) -> ChatAccount:
    """The account of this platform user, created with a new Person on first contact.

    Writing to the bot proves the chat works again, so an "unreachable" mark is cleared.
    """
    account = await session.scalar(
        select(ChatAccount).where(ChatAccount.platform == platform, ChatAccount.user_id == user_id)
    )
    if account is None:
        person = Person(full_name=display_name, created_at=now)
        account = ChatAccount(
            person=person, platform=platform, user_id=user_id, chat_id=chat_id,
            username=username, language_hint=language_hint, created_at=now,
        )
        session.add(account)
        await session.flush()
        return account
    if (account.chat_id, account.username, account.language_hint) != (
        chat_id, username, language_hint
    ):
        account.chat_id, account.username, account.language_hint = chat_id, username, language_hint
    if account.unreachable_at is not None:
        account.unreachable_at = None
        account.unreachable_reason = None
    if display_name and not account.person.full_name:
        account.person.full_name = display_name
    return account


@dataclass(frozen=True)
class PersonRole:
    """One active role of a person, with what it points at (for menus and access checks)."""

    membership_id: int
    role: Role
    campaign_id: int
    campaign_code: str
    campaign_title: str
    timezone: str
    campaign_deadline: datetime
    assignment_id: int | None
    unit_code: str | None
    unit_name: str | None
    unit_deadline: datetime | None
    team_id: int | None
    team_code: str | None
    team_name: str | None

    @property
    def deadline(self) -> datetime:
        return self.unit_deadline or self.campaign_deadline

    @property
    def label(self) -> str:
        where = self.unit_name or self.team_name or ""
        return f"{self.campaign_code} · {where}" if where else self.campaign_code


async def roles_of(session: AsyncSession, person_id: int) -> list[PersonRole]:
    """Active roles in open campaigns, newest campaign first."""
    rows = await session.execute(
        select(Membership, Campaign, Assignment, Unit, Team)
        .join(Campaign, Campaign.id == Membership.campaign_id)
        .outerjoin(Assignment, Assignment.id == Membership.assignment_id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(Team, Team.id == func.coalesce(Membership.team_id, Assignment.team_id))
        .where(
            Membership.person_id == person_id,
            Membership.revoked_at.is_(None),
            Campaign.closed_at.is_(None),
        )
        .order_by(Campaign.created_at.desc(), Membership.id)
    )
    return [
        PersonRole(
            membership_id=m.id, role=Role(m.role), campaign_id=c.id, campaign_code=c.code,
            campaign_title=c.title, timezone=c.timezone, campaign_deadline=c.deadline,
            assignment_id=a.id if a else None, unit_code=u.code if u else None,
            unit_name=u.name if u else None, unit_deadline=a.deadline if a else None,
            team_id=t.id if t else None, team_code=t.code if t else None,
            team_name=t.name if t else None,
        )
        for m, c, a, u, t in rows.tuples()
    ]

