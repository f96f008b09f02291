"""The notices job: every few seconds, dispatch the notices whose time has come.

A notice due at once is dispatched where it is stored (/broadcast, `cchc-bot notice send`);
this pass catches the ones stored for later and any a stopped process left behind. What a
dispatch writes is storage/services/notices.py `dispatch_notice`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Notice
from storage.services.notices import dispatch_notice


async def dispatch_due_notices(session: AsyncSession, now: datetime) -> int:
    """Dispatch every notice due at `now` (not yet dispatched, not cancelled), oldest first;
    returns how many notices were dispatched. Runs in the caller's transaction."""
    query = (
        select(Notice)
        .where(Notice.send_at <= now, Notice.dispatched_at.is_(None), Notice.cancelled_at.is_(None))
        .order_by(Notice.send_at, Notice.id)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Two schedulers never work on the same notice (the dedupe keys would make it
        # harmless, but the second would still resolve the audience for nothing).
        query = query.with_for_update(skip_locked=True)
    notices = list(await session.scalars(query))
    for notice in notices:
        await dispatch_notice(session, notice, now)
    return len(notices)
