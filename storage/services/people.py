"""People and their chat accounts, found or created from whoever writes to the bot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import class_mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state

from storage.db.engine import dialect_name
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
from storage.db.prepared import Prepared

T = TypeVar("T")

_KEPT = "cchc.kept"  # session.info: objects the identity map must not lose during the event


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


# The sender's account and person, as `settle_account` takes them (also read as part of
# storage/chat_open.py's statement).
ACCOUNT_COLUMNS = (ChatAccount.id, ChatAccount.chat_id, ChatAccount.username,
                   ChatAccount.language_hint, ChatAccount.unreachable_at,
                   Person.id.label("person_id"), Person.full_name, Person.locale,
                   Person.is_admin)


def account_select() -> Select[Any]:
    return (select(*ACCOUNT_COLUMNS)
            .join(Person, Person.id == ChatAccount.person_id)
            .where(ChatAccount.platform == bindparam("platform"),
                   ChatAccount.user_id == bindparam("user_id")))


_ACCOUNT = Prepared(account_select())


async def account_for(session: AsyncSession, *, platform: str, user_id: str, **details: Any
                      ) -> ChatUser:  # fmt: skip
    """The account of this platform user (see `settle_account` for `details`)."""
    row = await _ACCOUNT.first(session, {"platform": platform, "user_id": user_id})
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
        return await _first_contact(session, platform=platform, user_id=user_id,
                                    chat_id=chat_id, display_name=display_name,
                                    username=username, language_hint=language_hint, now=now)
    account_id, old_chat, old_username, old_hint, unreachable, person_id, name, locale, admin \
        = row
    if (old_chat, old_username, old_hint, unreachable) != (chat_id, username, language_hint,
                                                           None):  # fmt: skip
        await session.execute(
            update(ChatAccount).where(ChatAccount.id == account_id).values(
                chat_id=chat_id, username=username, language_hint=language_hint,
                unreachable_at=None, unreachable_reason=None,
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
_NEW_PERSON = insert(_PEOPLE).values(full_name=bindparam("name"), locale=None, is_admin=False,
                                     created_at=bindparam("now")).returning(_PEOPLE.c.id)
_ACCOUNT_VALUES: dict[str, Any] = {
    name: bindparam(name) for name in ("platform", "user_id", "chat_id", "username",
                                       "language_hint")
} | {"created_at": bindparam("now")}


def _both_in_one() -> Any:
    """PostgreSQL: the person and their account in one statement."""
    person = _NEW_PERSON.cte("person")
    row = select(person.c.id, *[value.label(name) for name, value in _ACCOUNT_VALUES.items()])
    return (insert(_ACCOUNTS).from_select(["person_id", *_ACCOUNT_VALUES], row)
            .returning(_ACCOUNTS.c.id, _ACCOUNTS.c.person_id))


_NEW_PERSON_AND_ACCOUNT = Prepared({"postgresql": _both_in_one()})
_NEW_PERSON_ALONE = Prepared(_NEW_PERSON)
_NEW_ACCOUNT = Prepared(insert(_ACCOUNTS).values(person_id=bindparam("person"), **_ACCOUNT_VALUES)
                        .returning(_ACCOUNTS.c.id, _ACCOUNTS.c.person_id))
_PERSON_KEYS = ("id", "full_name", "locale", "is_admin", "created_at")


async def _first_contact(session: AsyncSession, *, platform: str, user_id: str, chat_id: str,
                         display_name: str, username: str | None, language_hint: str | None,
                         now: datetime) -> ChatUser:  # fmt: skip
    """A new person and their account, written on the driver; the person goes into the
    session as if loaded, so `person_row` needs no query (/start comes next)."""
    params = {"name": display_name, "platform": platform, "user_id": user_id,
              "chat_id": chat_id, "username": username, "language_hint": language_hint,
              "now": now}
    if dialect_name(session) == "postgresql":
        row = await _NEW_PERSON_AND_ACCOUNT.first(session, params)
    else:
        person = await _NEW_PERSON_ALONE.first(session, params)
        assert person is not None
        row = await _NEW_ACCOUNT.first(session, {**params, "person": person[0]})
    assert row is not None  # an insert returns its row
    account_id, person_id = row
    adopt_row(session, Person, _PERSON_KEYS, (person_id, display_name, None, False, now))
    return ChatUser(account_id, platform, user_id, chat_id, person_id, display_name, None,
                    False)


async def person_row(session: AsyncSession, user: ChatUser) -> Person:
    person = loaded(session, Person, user.person_id)  # just created in this event: no query
    if person is None:
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
    submission_id: int | None = None

    @property
    def deadline(self) -> datetime:
        return self.unit_deadline or self.campaign_deadline

    @property
    def label(self) -> str:
        where = self.unit_name or self.team_name or ""
        return f"{self.campaign_code} · {where}" if where else self.campaign_code


# Every event of a linked person runs this: see storage/prepared.py.
ROLE_COLUMNS = (Membership.id, Membership.role, Campaign.id, Campaign.code, Campaign.title,
                Campaign.timezone, Campaign.deadline, Campaign.updated_at, Assignment.id,
                Unit.code, Unit.name, Assignment.deadline, Team.id, Team.code, Team.name)
_SUBMISSION_COLUMNS = tuple(Submission.__table__.c)  # after the role's, in each row
_SUBMISSION_KEYS = tuple(Submission.__mapper__.get_property_by_column(c).key
                         for c in _SUBMISSION_COLUMNS)
_SUBMISSION_ID = _SUBMISSION_KEYS.index("id")
_WIDTH = len(_SUBMISSION_COLUMNS)
SUBMISSION_ID_AT = len(ROLE_COLUMNS) + _SUBMISSION_ID  # in a row of role_select


def role_select(*extra: Any) -> Select[Any]:
    """A person's active roles in open campaigns (ROLE_COLUMNS, the unit's submission's
    columns, then `extra`); the caller says whose and in which order."""
    return (
        select(*ROLE_COLUMNS, *_SUBMISSION_COLUMNS, *extra)
        .select_from(Membership)
        .join(Campaign, Campaign.id == Membership.campaign_id)
        .outerjoin(Assignment, Assignment.id == Membership.assignment_id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(Team, Team.id == func.coalesce(Membership.team_id, Assignment.team_id))
        .outerjoin(Submission, Submission.assignment_id == Assignment.id)
        .where(Membership.revoked_at.is_(None), Campaign.closed_at.is_(None))
    )


_ROLES = Prepared(role_select().where(Membership.person_id == bindparam("person"))
                  .order_by(Campaign.created_at.desc(), Membership.id))  # newest first


def _adopt_submission(session: AsyncSession, values: Sequence[Any]) -> Submission | None:
    """The row's submission as an ORM object of this session (see `adopt_row`)."""
    if values[_SUBMISSION_ID] is None:  # not a unit contact's role
        return None
    return adopt_row(session, Submission, _SUBMISSION_KEYS, values)


def loaded(session: AsyncSession, model: type[T], ident: Any) -> T | None:
    """The object of this primary key if the session has it, as `session.get` finds it
    first, without that call's greenlet hop (see storage/lanes.py)."""
    sync = session.sync_session
    return cast("T | None", sync.identity_map.get(sync.identity_key(model, ident)))


def adopt_row(session: AsyncSession, model: type[T], keys: Sequence[str], values: Sequence[Any]
              ) -> T:  # fmt: skip
    """A row read (or written) on the driver as an ORM object of this session, as if the ORM
    had loaded it: no query. One already in the session wins. `keys`: every column's
    attribute, in the order of `values`. Kept for the session's life (the identity map
    holds objects weakly)."""
    mapper = class_mapper(model)
    known = loaded(session, model, values[keys.index(mapper.primary_key[0].key)])
    if known is not None:
        return known
    # Filled in as the ORM's loader does (straight into the instance dict, no attribute
    # events), marked as a loaded row of the database (no pending changes), and put in the
    # identity map as the loader puts what it loads: `session.add` would also start the
    # session's own transaction bookkeeping, which nothing else in most events needs.
    instance = mapper.class_manager.new_instance()
    instance.__dict__.update(zip(keys, values, strict=True))
    make_transient_to_detached(instance)
    state, sync = instance_state(instance), session.sync_session
    sync.identity_map.add(state)
    state.session_id = sync.hash_key
    session.info.setdefault(_KEPT, []).append(instance)
    return cast(T, instance)


async def roles_of(session: AsyncSession, person_id: int) -> list[PersonRole]:
    """Active roles in open campaigns, newest campaign first. A unit contact's submission is
    put into the session with them (for `session.get`)."""
    return roles_from_rows(session, await _ROLES.rows(session, {"person": person_id}))


def roles_from_rows(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> list[PersonRole]:
    """Roles from rows of `role_select` (extra columns ignored)."""
    submissions = [
        _adopt_submission(session, row[len(ROLE_COLUMNS):len(ROLE_COLUMNS) + _WIDTH])
        for row in rows
    ]
    return [
        PersonRole(
            membership_id=m_id, role=Role(role), campaign_id=c_id, campaign_code=c_code,
            campaign_title=c_title, timezone=tz, campaign_deadline=c_deadline,
            assignment_id=a_id, unit_code=u_code, unit_name=u_name, unit_deadline=a_deadline,
            team_id=t_id, team_code=t_code, team_name=t_name, campaign_version=c_version,
            submission_id=submission.id if submission is not None else None,
        )
        for (m_id, role, c_id, c_code, c_title, tz, c_deadline, c_version, a_id, u_code,
             u_name, a_deadline, t_id, t_code, t_name, *_), submission
        in zip(rows, submissions, strict=True)
    ]
