"""What a live unit-contact invite code points at, read before redeeming it, so a person
already answering for one unit is asked before a second code moves their chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment, Invite, Role, Unit
from storage.services.invite_codes import normalize_code
from storage.services.invites import InviteState, invite_state


@dataclass(frozen=True)
class InviteTarget:
    assignment_id: int
    unit_name: str


async def live_unit_invite(
    session: AsyncSession, typed_code: str, now: datetime
) -> InviteTarget | None:
    """The unit of a live, unused unit-contact code; None for anything else (the redeem
    step then answers as it always does)."""
    row = (
        await session.execute(
            select(Invite, Unit.name)
            .join(Assignment, Assignment.id == Invite.assignment_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Invite.code == normalize_code(typed_code))
        )
    ).first()
    if row is None:
        return None
    invite, unit_name = row
    if invite.role != Role.UNIT_CONTACT or invite_state(invite, now) != InviteState.LIVE:
        return None
    assert invite.assignment_id is not None  # joined on it
    return InviteTarget(invite.assignment_id, unit_name)
