"""What every chat event starts with: the chat's conversation state, locked for the event,
the sender's account (created on first contact), their roles and the answers of their unit's
report.

In general that is two statements: the state's lock first (an upsert), so that what the
second one reads (account, roles, answers) is what the chat's previous event committed.
On SQLite each statement costs about half a millisecond of aiosqlite's thread hand-offs
while the write lock is held; on PostgreSQL, a network round trip. PostgreSQL usually does
it in one statement (`_LOCK_AND_READ`):

- the state row is locked with FOR UPDATE SKIP LOCKED: when another event of the same chat
  (in another process) holds it, nothing comes back, and the two statements follow;
- everything else is read in the same statement, from the snapshot the statement began
  with. An event of the chat that committed between that snapshot and our lock would not
  be in it: then the row we locked is a newer version than the snapshot's (`fresh`
  compares their ctid), and the two statements follow too. So does a chat's first event
  (there is no row to lock yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name
from storage.db.models import ConversationState, Submission
from storage.services.conversation_state import ChatState, chat_state, lock_state
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


_SUBMISSION_ID = Submission.__table__.c.id
# Per dialect: the answer states are aggregated as JSON, which each spells its own way.
_SENDER: dict[str, Select[*tuple[Any, ...]]] = {
    dialect: sender_select(states_column(_SUBMISSION_ID, dialect))
    for dialect in ("postgresql", "sqlite")
}


def _lock_and_read() -> Select[*tuple[Any, ...]]:
    states: Table = ConversationState.__table__  # type: ignore[assignment]
    locked = (
        select(
            states.c.id,
            states.c.state,
            states.c.data,
            states.c.person_id,
            literal_column("ctid").label("version"),
        )
        .where(states.c.platform == bindparam("platform"), states.c.chat_id == bindparam("chat_id"))
        .with_for_update(skip_locked=True)
        .cte("locked")
        .prefix_with("MATERIALIZED")  # locked once, before the joins
    )
    seen = (
        select(literal_column("conversation_states.ctid"))
        .select_from(states)
        .where(states.c.id == locked.c.id)
        .scalar_subquery()
    )  # the snapshot's row
    fresh = (locked.c.version == seen).label("fresh")
    before = (locked.c.id, locked.c.state, locked.c.data, locked.c.person_id, fresh)
    return sender_select(states_column(_SUBMISSION_ID, "postgresql"), before=before, base=locked)


_LOCK_AND_READ = _lock_and_read()
_STATE, _FRESH = slice(0, 4), 4


async def open_chat(
    session: AsyncSession,
    *,
    platform: str,
    user_id: str,
    chat_id: str,
    now: datetime,
    **profile: Any,
) -> OpenedChat:
    """`profile`: the sender's display_name, username and language_hint, as the platform
    gives them now (see storage.services.people.settle_account)."""
    details = {"platform": platform, "user_id": user_id, "chat_id": chat_id, "now": now, **profile}
    dialect = dialect_name(session)
    if dialect == "postgresql":
        rows = (
            await session.execute(
                _LOCK_AND_READ, {"platform": platform, "chat_id": chat_id, "user_id": user_id}
            )
        ).all()
        if rows and rows[0][_FRESH]:
            state = chat_state(*rows[0][_STATE])
            return await _opened(session, state, [row[_FRESH + 1 :] for row in rows], details)
    state = await lock_state(session, platform=platform, chat_id=chat_id, now=now)
    rows = (
        await session.execute(_SENDER[dialect], {"platform": platform, "user_id": user_id})
    ).all()
    return await _opened(session, state, rows, details)


async def _opened(
    session: AsyncSession, state: ChatState, rows: Sequence[Sequence[Any]], details: dict[str, Any]
) -> OpenedChat:
    account, roles = await settle_sender(session, rows, **details)
    for role, row in zip(roles, role_rows(rows), strict=True):
        if role.submission_id is not None:  # a unit contact's: their report's answers
            keep_states_json(session, role.submission_id, row[-1])
    return OpenedChat(account, state, roles)
