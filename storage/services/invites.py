"""Invite codes: one per unit-contact slot and per team leader/member slot of a campaign.

A code is single-use, expires (default 30 days) and can be revoked; revoking a used code
also ends the role it granted. `redeem` is what `/start CODE` calls.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from common.localtime import fmt_datetime
from storage.db.models import (
    Assignment,
    Campaign,
    Invite,
    Membership,
    Person,
    Role,
    Team,
    Unit,
)
from storage.services import audit
from storage.services.invite_codes import new_code, normalize_code
from storage.services.outbox import enqueue_many
from storage.services.people import admin_accounts

SlotKey = tuple[str, int | None, int | None, int]  # role, assignment_id, team_id, slot


class InviteState(StrEnum):
    LIVE = "live"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"


def invite_state(invite: Invite, now: datetime) -> InviteState:
    if invite.revoked_at is not None:
        return InviteState.REVOKED
    if invite.used_at is not None:
        return InviteState.USED
    if invite.expires_at <= now:
        return InviteState.EXPIRED
    return InviteState.LIVE


async def _wanted_slots(session: AsyncSession, campaign_id: int) -> set[SlotKey]:
    wanted: set[SlotKey] = set()
    rows = await session.execute(
        select(Assignment.id, Assignment.contact_slots).where(Assignment.campaign_id == campaign_id)
    )
    for assignment_id, slots in rows:
        wanted.update((Role.UNIT_CONTACT, assignment_id, None, n) for n in range(1, slots + 1))
    for team in await session.scalars(select(Team).where(Team.campaign_id == campaign_id)):
        wanted.update((Role.TEAM_LEADER, None, team.id, n) for n in range(1, team.leader_slots + 1))
        wanted.update((Role.TEAM_MEMBER, None, team.id, n) for n in range(1, team.member_slots + 1))
    return wanted


async def ensure_invite_slots(
    session: AsyncSession, campaign_id: int, *, now: datetime, ttl: timedelta
) -> int:
    """Create a code for every slot that has none; revoke unused codes of removed slots.
    Returns the number of codes created."""
    wanted = await _wanted_slots(session, campaign_id)
    existing: dict[SlotKey, list[tuple[int, bool]]] = defaultdict(list)
    rows = await session.execute(
        select(
            Invite.role,
            Invite.assignment_id,
            Invite.team_id,
            Invite.slot,
            Invite.id,
            Invite.used_at.is_not(None),
        ).where(Invite.campaign_id == campaign_id, Invite.revoked_at.is_(None))
    )
    for role, assignment_id, team_id, slot, invite_id, used in rows:
        existing[(role, assignment_id, team_id, slot)].append((invite_id, used))
    new_rows = [
        _invite_row(campaign_id, key, now, ttl)
        for key in sorted(wanted - existing.keys(), key=_slot_order)
    ]
    if new_rows:
        await session.execute(insert(Invite), new_rows)
    dropped = [
        invite_id
        for key, invites in existing.items()
        if key not in wanted
        for invite_id, used in invites
        if not used
    ]
    if dropped:
        await session.execute(update(Invite).where(Invite.id.in_(dropped)).values(revoked_at=now))
    return len(new_rows)


def _slot_order(key: SlotKey) -> tuple[str, int, int, int]:
    role, assignment_id, team_id, slot = key
    return (role, assignment_id or 0, team_id or 0, slot)


def _invite_row(campaign_id: int, key: SlotKey, now: datetime, ttl: timedelta) -> dict[str, Any]:
    role, assignment_id, team_id, slot = key
    return {
        "code": new_code(),
        "campaign_id": campaign_id,
        "role": role,
        "assignment_id": assignment_id,
        "team_id": team_id,
        "slot": slot,
        "created_at": now,
        "expires_at": now + ttl,
    }


# -- listing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteRow:
    code: str
    role: str
    unit_code: str | None
    unit_name: str | None
    team_code: str | None
    slot: int
    state: str
    expires_at: datetime
    used_by: str | None
    link: str | None

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "expires_at": self.expires_at.isoformat()}


_ROLE_ORDER = case(
    {Role.ADMIN.value: 0, Role.TEAM_LEADER.value: 1, Role.TEAM_MEMBER.value: 2},
    value=Invite.role,
    else_=3,
)


def deep_link(bot_username: str | None, code: str) -> str | None:
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}" if bot_username else None


async def list_invites(
    session: AsyncSession,
    campaign_id: int,
    *,
    now: datetime,
    bot_username: str | None = None,
    include_inactive: bool = False,
) -> list[InviteRow]:
    """Team codes first, then the units in the order of the campaign file."""
    unit_team = aliased(Team)
    query = (
        select(Invite, Unit.code, Unit.name, Team.code, unit_team.code, Person.full_name)
        .outerjoin(Assignment, Assignment.id == Invite.assignment_id)
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .outerjoin(Team, Team.id == Invite.team_id)
        .outerjoin(unit_team, unit_team.id == Assignment.team_id)
        .outerjoin(Person, Person.id == Invite.used_by)
        .where(Invite.campaign_id == campaign_id)
        .order_by(
            Assignment.position.nulls_first(), _ROLE_ORDER, Invite.team_id, Invite.slot, Invite.id
        )
    )
    rows = []
    for invite, unit_code, unit_name, team_code, unit_team_code, used_by in await session.execute(
        query
    ):
        state = invite_state(invite, now)
        if not include_inactive and state in (InviteState.REVOKED, InviteState.EXPIRED):
            continue
        rows.append(
            InviteRow(
                code=invite.code,
                role=invite.role,
                unit_code=unit_code,
                unit_name=unit_name,
                team_code=team_code or unit_team_code,
                slot=invite.slot,
                state=state.value,
                expires_at=invite.expires_at,
                used_by=used_by,
                link=deep_link(bot_username, invite.code),
            )
        )
    return rows


# -- revoke, reissue ---------------------------------------------------------------------


class InviteError(Exception):
    """A command on invites that cannot be done; `reason` is a catalog key suffix."""

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.params = params


async def revoke_invite(
    session: AsyncSession, typed_code: str, *, now: datetime, actor_label: str = "cli"
) -> Invite:
    invite = await session.scalar(select(Invite).where(Invite.code == normalize_code(typed_code)))
    if invite is None:
        raise InviteError("unknown")
    if invite.revoked_at is not None:
        raise InviteError("already_revoked")
    invite.revoked_at = now
    # A used code granted a role: revoking it ends that role (a contact who left the unit).
    await session.execute(
        update(Membership)
        .where(Membership.invite_id == invite.id, Membership.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await audit.record(
        session,
        now=now,
        action="invite.revoke",
        campaign_id=invite.campaign_id,
        actor_label=actor_label,
        subject=invite.code,
    )
    return invite


async def new_invite(
    session: AsyncSession,
    campaign: Campaign,
    role: Role,
    *,
    now: datetime,
    ttl: timedelta,
    unit_code: str | None = None,
    team_code: str | None = None,
    actor_label: str = "cli",
) -> Invite:
    """Issue one more code: it takes the first slot left without a usable code."""
    assignment_id, team_id = await _invite_target(session, campaign, role, unit_code, team_code)
    taken = set(
        await session.scalars(
            select(Invite.slot).where(
                Invite.campaign_id == campaign.id,
                Invite.role == role,
                Invite.assignment_id.is_(None)
                if assignment_id is None
                else Invite.assignment_id == assignment_id,
                Invite.team_id.is_(None) if team_id is None else Invite.team_id == team_id,
                Invite.revoked_at.is_(None),
                (Invite.used_at.is_not(None)) | (Invite.expires_at > now),
            )
        )
    )
    slot = next(n for n in range(1, len(taken) + 2) if n not in taken)
    invite = Invite(**_invite_row(campaign.id, (role, assignment_id, team_id, slot), now, ttl))
    session.add(invite)
    await session.flush()
    await audit.record(
        session,
        now=now,
        action="invite.new",
        campaign_id=campaign.id,
        actor_label=actor_label,
        subject=invite.code,
        details={"role": role.value, "unit": unit_code, "team": team_code},
    )
    return invite


async def _invite_target(
    session: AsyncSession,
    campaign: Campaign,
    role: Role,
    unit_code: str | None,
    team_code: str | None,
) -> tuple[int | None, int | None]:
    if role == Role.UNIT_CONTACT:
        if not unit_code:
            raise InviteError("unit_required")
        assignment_id = await session.scalar(
            select(Assignment.id)
            .join(Unit)
            .where(Assignment.campaign_id == campaign.id, Unit.code == unit_code)
        )
        if assignment_id is None:
            raise InviteError("unknown_unit", unit=unit_code)
        return assignment_id, None
    if role in (Role.TEAM_LEADER, Role.TEAM_MEMBER):
        if not team_code:
            raise InviteError("team_required")
        team_id = await session.scalar(
            select(Team.id).where(Team.campaign_id == campaign.id, Team.code == team_code)
        )
        if team_id is None:
            raise InviteError("unknown_team", team=team_code)
        return None, team_id
    return None, None  # admin


# -- redeem (/start CODE) ----------------------------------------------------------------


class RedeemOutcome(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ALREADY_YOURS = "already_yours"  # the same person pressed the link again


@dataclass(frozen=True)
class RedeemResult:
    outcome: RedeemOutcome
    invite: Invite | None = None
    membership: Membership | None = None


# Built once: a statement's expression costs more to build than to run from the cache.
_INVITE_TO_REDEEM = select(Invite).where(Invite.code == bindparam("code")).with_for_update()


async def redeem_invite(
    session: AsyncSession, typed_code: str, person: Person, *, now: datetime
) -> RedeemResult:
    invite = await session.scalar(_INVITE_TO_REDEEM, {"code": normalize_code(typed_code)})
    if invite is None:
        return RedeemResult(RedeemOutcome.UNKNOWN)
    state = invite_state(invite, now)
    if state == InviteState.USED:
        outcome = RedeemOutcome.ALREADY_YOURS if invite.used_by == person.id else RedeemOutcome.USED
        membership = await session.scalar(
            select(Membership).where(
                Membership.invite_id == invite.id, Membership.revoked_at.is_(None)
            )
        )
        return RedeemResult(outcome, invite, membership)
    if state != InviteState.LIVE:
        return RedeemResult(RedeemOutcome(state.value), invite)
    invite.used_at = now
    invite.used_by = person.id
    membership = Membership(
        person_id=person.id,
        campaign_id=invite.campaign_id,
        role=invite.role,
        assignment_id=invite.assignment_id,
        team_id=invite.team_id,
        invite_id=invite.id,
        created_at=now,
    )
    session.add(membership)
    if invite.role == Role.ADMIN:
        person.is_admin = True
    await session.flush()
    await audit.record(
        session,
        now=now,
        action="invite.redeem",
        campaign_id=invite.campaign_id,
        actor_id=person.id,
        subject=invite.code,
        details={"role": invite.role},
    )
    return RedeemResult(RedeemOutcome.OK, invite, membership)


# -- many wrong codes from many chats (handlers/invite_guard.py) ---------------------------

FLOOD_TEMPLATE = "alerts.invite_flood"


async def alert_invite_flood(
    session: AsyncSession,
    *,
    now: datetime,
    since: datetime,
    limit: int,
    chats: int,
    admin_user_ids: Mapping[str, frozenset[str]],
) -> int:
    """Tell every reachable admin that `limit` wrong codes came from `chats` chats in the
    window starting at `since`, and that code checks are paused until it ends. Keyed by
    the window: a second call for it (another process's) adds nothing. Returns the number
    of admin accounts."""
    accounts = await admin_accounts(session, admin_user_ids)
    params = {"limit": limit, "chats": chats, "time": fmt_datetime(since)}
    await enqueue_many(
        session,
        [
            {
                "dedupe_key": f"invite-flood:{since.isoformat()}:{account.id}",
                "kind": "alert",
                "chat_account_id": account.id,
                "person_id": account.person_id,
                "template": FLOOD_TEMPLATE,
                "params": params,
                "not_before": now,
                "created_at": now,
            }
            for account in accounts
        ],
    )
    await audit.record(
        session,
        now=now,
        action="invite.flood",
        subject=since.isoformat(),
        details={"limit": limit, "chats": chats, "admins": len(accounts)},
    )
    return len(accounts)
