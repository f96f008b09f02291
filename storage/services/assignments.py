"""Assignments (a unit in a campaign, with its team and deadline) found by id."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Assignment


async def assignment_by_id(session: AsyncSession, assignment_id: int) -> Assignment | None:
    """The assignment with its unit and campaign loaded (the model joins them); None for an
    unknown id. One already in the session costs no query."""
    return await session.get(Assignment, assignment_id)
