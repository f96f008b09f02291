"""The inbound updates already handled, so one a platform delivers again is not handled twice.

Telegram hands an update out again when it was not confirmed: the process died before its
next getUpdates, or a webhook POST was not answered 200. `first_time` records the update's
key in the event's own transaction, so "handled" and "recorded" commit together: after a
crash either both happened (the redelivery is recognised) or neither (it is handled as new).

On PostgreSQL a second process inserting the same key waits for the first one's
transaction, then sees it (or, if that rolled back, takes the update itself). Keys are kept
for `KEEP`, long after Telegram stops redelivering, and pruned by a scheduled job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name
from storage.db.models import HandledUpdate

KEEP = timedelta(days=7)

_TABLE: Table = HandledUpdate.__table__  # type: ignore[assignment]


def _record(builder: Any) -> Any:
    statement = builder(_TABLE).values(
        platform=bindparam("platform"),
        update_key=bindparam("update_key"),
        handled_at=bindparam("handled_at"),
    )
    # RETURNING gives a row only when the insert happened: the key was not there yet.
    return statement.on_conflict_do_nothing(index_elements=["platform", "update_key"]).returning(
        _TABLE.c.update_key
    )


_RECORD = {"postgresql": _record(postgresql.insert), "sqlite": _record(sqlite.insert)}


async def first_time(session: AsyncSession, platform: str, key: str, now: datetime) -> bool:
    """Record the update `key` of `platform` as handled; False when it was already."""
    result = await session.execute(
        _RECORD[dialect_name(session)],
        {"platform": platform, "update_key": key, "handled_at": now},
    )
    return result.first() is not None


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Forget the updates handled more than `KEEP` ago; how many were forgotten."""
    result = await session.execute(delete(_TABLE).where(_TABLE.c.handled_at < now - KEEP))
    return int(getattr(result, "rowcount", 0) or 0)
