"""Conversation state in the database, so a restart or a second process continues a chat
exactly where it was. On PostgreSQL the row is locked for the event (one chat's events run
in order across processes); on SQLite the transaction's BEGIN IMMEDIATE does that.

Every event reads and usually writes this row: both are Core statements built once, with
plain values instead of an ORM object, and the write goes out only when the event changed
something."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name
from storage.db.models import ConversationState

_TABLE: Table = ConversationState.__table__  # type: ignore[assignment]


@dataclass
class ChatState:
    """A chat's conversation state for one event; `save_state` writes it back if changed."""

    id: int
    state: str
    data: dict[str, Any]
    person_id: int | None
    _read: str = field(default="", repr=False)  # what was read, to tell a change

    def snapshot(self) -> str:
        return json.dumps([self.state, self.data, self.person_id], sort_keys=True, default=str)


def _upsert(builder: Any) -> Any:
    # Touching the row on conflict takes its row lock on PostgreSQL (as SELECT ... FOR UPDATE
    # would) and returns it: one round trip.
    statement = builder(_TABLE).values(
        platform=bindparam("platform"),
        chat_id=bindparam("chat_id"),
        state="idle",
        data=bindparam("data", type_=_TABLE.c.data.type),
        updated_at=bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=["platform", "chat_id"], set_={"updated_at": statement.excluded.updated_at}
    ).returning(_TABLE.c.id, _TABLE.c.state, _TABLE.c.data, _TABLE.c.person_id)


_LOCK = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_SAVE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("state_id"))
    .values(
        state=bindparam("state"),
        data=bindparam("data"),
        person_id=bindparam("state_person"),
        updated_at=bindparam("state_now"),
    )
)


async def lock_state(
    session: AsyncSession, *, platform: str, chat_id: str, now: datetime
) -> ChatState:
    """The chat's state, its row created when missing and locked until the transaction ends."""
    statement = _LOCK[dialect_name(session)]
    result = await session.execute(
        statement, {"platform": platform, "chat_id": chat_id, "data": {}, "now": now}
    )
    row = result.one_or_none()
    assert row is not None  # an upsert always returns its row
    return chat_state(*row)


def chat_state(
    state_id: int, name: str, data: dict[str, Any] | None, person_id: int | None
) -> ChatState:
    """The state as read from its row (id, state, data, person_id)."""
    state = ChatState(state_id, name, dict(data or {}), person_id)
    state._read = state.snapshot()
    return state


async def save_state(session: AsyncSession, state: ChatState, now: datetime) -> None:
    """Write the state back when the event changed it; updated_at says when it last did."""
    if state.snapshot() == state._read:
        return
    await session.execute(
        _SAVE,
        {
            "state_id": state.id,
            "state": state.state,
            "data": state.data,
            "state_person": state.person_id,
            "state_now": now,
        },
    )
