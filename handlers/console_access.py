"""Access for the desk console: the rules of handlers/access.py for a signed-in person.

A console page asks here, never decides itself: the same Scope decides in chat and on the
web. A refusal is recorded in the audit log exactly as in chat, and the page answers 404
(the same as for a thing that does not exist).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.access import Scope, scope_from
from storage.db.models import ChatAccount, Person
from storage.services import audit
from storage.services.people import PersonRole, roles_of

log = logging.getLogger(__name__)


async def person_scope(
    session: AsyncSession, person: Person, admin_ids: Mapping[str, frozenset[str]]
) -> tuple[Scope, list[PersonRole]]:
    """The person's scope; an admin by the settings (ADMIN_TELEGRAM_IDS) counts too."""
    linked = await roles_of(session, person.id)
    is_admin = person.is_admin
    if not is_admin and admin_ids:
        accounts = await session.execute(
            select(ChatAccount.platform, ChatAccount.user_id).where(
                ChatAccount.person_id == person.id
            )
        )
        is_admin = any(user in admin_ids.get(platform, ()) for platform, user in accounts)
    return scope_from(linked, is_admin=is_admin), linked


def campaign_ids(scope: Scope, linked: list[PersonRole]) -> frozenset[int]:
    """The campaigns whose board the person may open (admins: every campaign)."""
    return frozenset(r.campaign_id for r in linked if r.team_id in scope.team_ids)


def board_teams(scope: Scope) -> frozenset[int] | None:
    """The teams whose units a board shows: None for all (admins)."""
    return None if scope.admin else scope.team_ids


async def deny_web(
    session: AsyncSession, *, now: datetime, person_id: int, action: str, subject: str
) -> None:
    log.info("console denied %s %s to person %s", action, subject, person_id)
    await audit.record(
        session,
        now=now,
        action="access.denied",
        actor_id=person_id,
        subject=subject,
        details={"action": action, "via": "web"},
    )
