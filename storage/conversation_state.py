"""Conversation state in the database, so a restart or a second process continues a chat
exactly where it was. On PostgreSQL the row is locked for the event (one chat's events run
in order across processes); on SQLite the single process's BEGIN IMMEDIATE does that."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationState


async def lock_state(
    session: AsyncSession, *, platform: str, chat_id: str, now: datetime
) -> ConversationState:
    """The chat's state row, created when missing, locked until the transaction ends.

    One statement: an upsert that touches the row takes its row lock on PostgreSQL (as
    SELECT ... FOR UPDATE would) and returns it, a round trip less on every event."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        builder(ConversationState)
        .values(platform=platform, chat_id=chat_id, state="idle", data={}, updated_at=now)
        .on_conflict_do_update(index_elements=["platform", "chat_id"],
                               set_={"updated_at": now})
        .returning(ConversationState)
    )
    result = await session.scalars(statement, execution_options={"populate_existing": True})
    return result.one()
