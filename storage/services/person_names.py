"""People's names for display (who answered an item, who asked a question)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Person


async def full_names(session: AsyncSession, person_ids: Collection[int]) -> dict[int, str]:
    """The full name of each of these people, by id (unknown ids are left out)."""
    if not person_ids:
        return {}
    rows = await session.execute(
        select(Person.id, Person.full_name).where(Person.id.in_(sorted(person_ids)))
    )
    return dict(rows.all())
