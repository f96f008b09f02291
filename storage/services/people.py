"""People and their chat accounts, found or created from whoever writes to the bot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    false,
    func,
    insert,
    join,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Membership,
    Person,
    Role,
    Submission,
    Team,
    Unit,
)


@dataclass
class ChatUser:
    """What an event needs of its sender: the chat account and the person behind it, as
    plain values (read with one statement; `person_row` gives the ORM Person to change)."""

    account_id: int
    platform: str
    user_id: str
    chat_id: str
    person_id: int
    full_name: str
    locale: str | None
    is_admin: bool

    @property
    def id(self) -> int:  # as a person: `turn.person.id`
        return self.person_id


# The sender's account and person, as `settle_account` takes them.
ACCOUNT_COLUMNS = (
    ChatAccount.id,
    ChatAccount.chat_id,
    ChatAccount.username,
    ChatAccount.language_hint,
    ChatAccount.unreachable_at,
    ChatAccount.last_used_at,
    Person.id.label("person_id"),
    Person.full_name,
    Person.locale,
    Person.is_admin,
)


def account_select() -> Select[*tuple[Any, ...]]:
    return (
        select(*ACCOUNT_COLUMNS)
        .join(Person, Person.id == ChatAccount.person_id)
        .where(
            ChatAccount.platform == bindparam("platform"),
            ChatAccount.user_id == bindparam("user_id"),
        )
    )


_ACCOUNT = account_select()


async def account_for(
    session: AsyncSession, *, platform: str, user_id: str, **details: Any
) -> ChatUser:
    """The account of this platform user (see `settle_account` for `details`)."""
    row = (await session.execute(_ACCOUNT, {"platform": platform, "user_id": user_id})).first()
    return await settle_account(session, row, platform=platform, user_id=user_id, **details)


async def settle_account(
    session: AsyncSession,
    row: Sequence[Any] | None,
    *,
    platform: str,
    user_id: str,
    chat_id: str,
    display_name: str,
    username: str | None,
    language_hint: str | None,
    now: datetime,
) -> ChatUser:
    """The account read as `row` (ACCOUNT_COLUMNS), created with a new Person on first
    contact (`row` None), and brought up to date with what the platform now says.

    Writing to the bot proves the chat works again, so an "unreachable" mark is cleared.
    """
    if row is None:
        return await _first_contact(
            session,
            platform=platform,
            user_id=user_id,
            chat_id=chat_id,
            display_name=display_name,
            username=username,
            language_hint=language_hint,
            now=now,
        )
    (account_id, old_chat, old_username, old_hint, unreachable, last_used) = row[:6]
    person_id, name, locale, admin = row[6:]
    # A linked account (/link) also records that it is the one the person uses now.
    linked = {"last_used_at": now} if last_used is not None else {}
    if linked or (old_chat, old_username, old_hint, unreachable) != (
        chat_id,
        username,
        language_hint,
        None,
    ):
        await session.execute(
            update(ChatAccount)
            .where(ChatAccount.id == account_id)
            .values(
                chat_id=chat_id,
                username=username,
                language_hint=language_hint,
                unreachable_at=None,
                unreachable_reason=None,
                **linked,
            )
        )
    if display_name and not name:
        await session.execute(
            update(Person).where(Person.id == person_id).values(full_name=display_name)
        )
        name = display_name
    return ChatUser(account_id, platform, user_id, chat_id, person_id, name, locale, admin)


_PEOPLE: Table = Person.__table__  # type: ignore[assignment]
_ACCOUNTS: Table = ChatAccount.__table__  # type: ignore[assignment]
_NEW_PERSON = (
    insert(_PEOPLE)
    .values(full_name=bindparam("name"), locale=None, is_admin=False, created_at=bindparam("now"))
    .returning(_PEOPLE.c.id)
)
_ACCOUNT_VALUES: dict[str, Any] = {
    name: bindparam(name)
    for name in ("platform", "user_id", "chat_id", "username", "language_hint")
} | {"created_at": bindparam("now")}
_NEW_ACCOUNT = (
    insert(_ACCOUNTS)
    .values(person_id=bindparam("person"), **_ACCOUNT_VALUES)
    .returning(_ACCOUNTS.c.id)
)


async def _first_contact(
    session: AsyncSession,
    *,
    platform: str,
    user_id: str,
    chat_id: str,
    display_name: str,
    username: str | None,
    language_hint: str | None,
    now: datetime,
) -> ChatUser:
    """A new person and their chat account (once per person: plain statements)."""
    params = {
        "name": display_name,
        "platform": platform,
        "user_id": user_id,
        "chat_id": chat_id,
        "username": username,
        "language_hint": language_hint,
        "now": now,
    }
    person_id = (await session.execute(_NEW_PERSON, params)).scalar_one()
    account_id = (await session.execute(_NEW_ACCOUNT, {**params, "person": person_id})).scalar_one()
    return ChatUser(account_id, platform, user_id, chat_id, person_id, display_name, None, False)


async def keep_private_chat(
    session: AsyncSession, *, platform: str, user_id: str, group_chat_id: str
) -> None:
    """An account whose chat became a group chat goes back to the person's private chat.

    Before group chats were refused (issue 15), a message in a group moved the sender's
    account there, and reminders and alerts followed it into the group. A private chat's id
    is the user id on every platform we serve (Telegram says so; the web chat and Zalo too),
    so that is where such an account goes back to. Usually nothing matches.
    """
    await session.execute(
        update(ChatAccount)
        .where(
            ChatAccount.platform == platform,
            ChatAccount.user_id == user_id,
            ChatAccount.chat_id == group_chat_id,
            ChatAccount.chat_id != user_id,
        )
        .values(chat_id=user_id)
    )


async def admin_accounts(
    session: AsyncSession, admin_user_ids: Mapping[str, frozenset[str]]
) -> list[ChatAccount]:
    """Reachable accounts of admins: Person.is_admin, or a user id listed in the settings
    for its platform (ADMIN_TELEGRAM_IDS)."""
    listed = [
        and_(ChatAccount.platform == platform, ChatAccount.user_id.in_(sorted(ids)))
        for platform, ids in admin_user_ids.items()
        if ids
    ]
    return list(
        await session.scalars(
            select(ChatAccount)
            .join(Person, Person.id == ChatAccount.person_id)
            .where(
                or_(Person.is_admin.is_(True), *listed, false()),
                ChatAccount.unreachable_at.is_(None),
            )
            .order_by(ChatAccount.id)
        )
    )


async def person_row(session: AsyncSession, user: ChatUser) -> Person:
    """The ORM Person behind the account, to change (locale, name)."""
    person = await session.get(Person, user.person_id)
    assert person is not None  # the account row references it
    return person


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
    campaign_version: datetime | None = None  # the campaign's updated_at: keys its checklist
    # A unit contact's report, loaded with the role (the role holds it, so the session's
    # identity map, which holds objects only weakly, keeps it for the event).
    submission: Submission | None = None

    @property
    def submission_id(self) -> int | None:
        return self.submission.id if self.submission is not None else None

    @property
    def deadline(self) -> datetime:
        return self.unit_deadline or self.campaign_deadline

    @property
    def label(self) -> str:
        where = self.unit_name or self.team_name or ""
        return f"{self.campaign_code} · {where}" if where else self.campaign_code


ROLE_COLUMNS = (
    Membership.id,
    Membership.role,
    Campaign.id,
    Campaign.code,
    Campaign.title,
    Campaign.timezone,
    Campaign.deadline,
    Campaign.updated_at,
    Assignment.id,
    Unit.code,
    Unit.name,
    Assignment.deadline,
    Team.id,
    Team.code,
    Team.name,
)


def _role_joins(person: Any) -> Any:
    """The joins from a person (`person`: their id column) to their active roles in open
    campaigns, each with its assignment, unit, team and the unit's submission; outer, so a
    person without roles still gives one row."""
    active = and_(Membership.person_id == person, Membership.revoked_at.is_(None))
    open_campaign = and_(Campaign.id == Membership.campaign_id, Campaign.closed_at.is_(None))
    return (
        join(Membership, Campaign, open_campaign)
        .outerjoin(Assignment, Assignment.id == Membership.assignment_id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(Team, Team.id == func.coalesce(Membership.team_id, Assignment.team_id))
        .outerjoin(Submission, Submission.assignment_id == Assignment.id)
    ), active


_NEWEST_FIRST = (Campaign.created_at.desc(), Membership.id)
_ROLE_TABLES, _ACTIVE = _role_joins(bindparam("person"))
_ROLES = (
    select(*ROLE_COLUMNS, Submission)
    .select_from(_ROLE_TABLES)
    .where(_ACTIVE)
    .order_by(*_NEWEST_FIRST)
)
_ROLE_AT = len(ACCOUNT_COLUMNS)


def sender_select(
    *extra: Any, before: Sequence[Any] = (), base: Any = None
) -> Select[*tuple[Any, ...]]:
    """A sender's account and person, and their roles (one row per role; one row with the
    role columns empty when they have none), then `extra` columns, which may use the
    role's tables (the submission's id, say). With `base` (a FROM such as a CTE), the
    sender is outer-joined to it and `before` (its columns) come first in each row: a row
    with nothing of the sender then means they have no account yet."""
    tables, active = _role_joins(Person.id)
    sender = join(ChatAccount, Person, Person.id == ChatAccount.person_id).outerjoin(tables, active)
    theirs = and_(
        ChatAccount.platform == bindparam("platform"), ChatAccount.user_id == bindparam("user_id")
    )
    columns = (*before, *ACCOUNT_COLUMNS, *ROLE_COLUMNS, Submission, *extra)
    if base is None:
        query = select(*columns).select_from(sender).where(theirs)
    else:
        query = select(*columns).select_from(base.outerjoin(sender, theirs))
    return query.order_by(*_NEWEST_FIRST)


async def settle_sender(
    session: AsyncSession,
    rows: Sequence[Sequence[Any]],
    *,
    platform: str,
    user_id: str,
    **details: Any,
) -> tuple[ChatUser, list[PersonRole]]:
    """The account and roles from rows of `sender_select` (see `settle_account` for
    `details`), without its `before` columns; extra columns are the caller's."""
    known = bool(rows) and rows[0][0] is not None  # (an outer join to `base`: no account)
    account = await settle_account(
        session,
        rows[0][:_ROLE_AT] if known else None,
        platform=platform,
        user_id=user_id,
        **details,
    )
    width = _ROLE_AT + len(ROLE_COLUMNS) + 1
    return account, _roles([row[_ROLE_AT:width] for row in role_rows(rows)])


def role_rows(rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
    """The rows of `sender_select` that hold a role, in the order `settle_sender` gives
    the roles."""
    return [row for row in rows if row[_ROLE_AT] is not None]


async def roles_of(session: AsyncSession, person_id: int) -> list[PersonRole]:
    """Active roles in open campaigns, newest campaign first, each unit contact's with the
    unit's submission (loaded into the session)."""
    return _roles((await session.execute(_ROLES, {"person": person_id})).all())


def _roles(rows: Sequence[Sequence[Any]]) -> list[PersonRole]:
    return [
        PersonRole(
            membership_id=m_id,
            role=Role(role),
            campaign_id=c_id,
            campaign_code=c_code,
            campaign_title=c_title,
            timezone=tz,
            campaign_deadline=c_deadline,
            assignment_id=a_id,
            unit_code=u_code,
            unit_name=u_name,
            unit_deadline=a_deadline,
            team_id=t_id,
            team_code=t_code,
            team_name=t_name,
            campaign_version=c_version,
            submission=submission,
        )
        for (
            m_id,
            role,
            c_id,
            c_code,
            c_title,
            tz,
            c_deadline,
            c_version,
            a_id,
            u_code,
            u_name,
            a_deadline,
            t_id,
            t_code,
            t_name,
            submission,
        ) in rows
    ]
