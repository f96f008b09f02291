"""What every chat event starts with: the chat's conversation state, locked for the event,
the sender's account (created on first contact), their roles and the answers of their unit's
report. Two statements: the lock first, so what the second reads is what the chat's
previous event committed; then everything else at once (on SQLite each statement costs
about half a millisecond of aiosqlite's thread hand-offs while the write lock is held, and
on PostgreSQL a network round trip)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.engine import dialect_name
from storage.db.models import Submission
from storage.services.conversation_state import ChatState, lock_state
from storage.services.people import (
    ChatUser,
    PersonRole,
    role_rows,
    sender_select,
    settle_sender,
)
from storage.services.submissions import keep_states_json, states_column


@dataclass
class OpenedChat:
    account: ChatUser
    state: ChatState
    roles: list[PersonRole]


# Per dialect: the answer states are aggregated as JSON, which each spells its own way.
_SENDER: dict[str, Select[*tuple[Any, ...]]] = {
    dialect: sender_select(states_column(Submission.__table__.c.id, dialect))
    for dialect in ("postgresql", "sqlite")
}


async def open_chat(session: AsyncSession, *, platform: str, user_id: str, chat_id: str,
                    now: datetime, **profile: Any) -> OpenedChat:  # fmt: skip
    """`profile`: the sender's display_name, username and language_hint, as the platform
    gives them now (see storage.services.people.settle_account)."""
    state = await lock_state(session, platform=platform, chat_id=chat_id, now=now)
    rows = (await session.execute(_SENDER[dialect_name(session)],
                                  {"platform": platform, "user_id": user_id})).all()
    account, roles = await settle_sender(session, rows, platform=platform, user_id=user_id,
                                         chat_id=chat_id, now=now, **profile)
    for role, row in zip(roles, role_rows(rows), strict=True):
        if role.submission_id is not None:  # a unit contact's: their report's answers
            keep_states_json(session, role.submission_id, row[-1])
    return OpenedChat(account, state, roles)
