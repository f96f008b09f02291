"""Conversation state in the database, so a restart or a second process continues a chat
exactly where it was. On PostgreSQL the row is locked for the event (one chat's events run
in order across processes); on SQLite the single process's BEGIN IMMEDIATE does that."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationState


async def lock_state(
    session: AsyncSession, *, platform: str, chat_id: str, now: datetime
) -> ConversationState:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        builder(ConversationState)
        .values(platform=platform, chat_id=chat_id, state="idle", data={}, updated_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "chat_id"])
    )
    state = await session.scalar(
        select(ConversationState)
        .where(ConversationState.platform == platform, ConversationState.chat_id == chat_id)
        .with_for_update()
    )
    assert state is not None
    return state
