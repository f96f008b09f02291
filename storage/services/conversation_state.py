"""Conversation state in the database, so a restart or a second process continues a chat
exactly where it was. On PostgreSQL the row is locked for the event (one chat's events run
in order across processes); on SQLite the single process's BEGIN IMMEDIATE does that.

Every event reads and usually writes this row, so both are prebuilt statements run on the
driver (storage/prepared.py) with plain values, not ORM objects; on PostgreSQL the read is
usually part of storage/chat_open.py's statement instead of `lock_state`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import ConversationState
from storage.db.prepared import Prepared, take_state_carrier

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
        platform=bindparam("platform"), chat_id=bindparam("chat_id"), state="idle",
        data=bindparam("data", type_=_TABLE.c.data.type), updated_at=bindparam("now"),
    )
    return statement.on_conflict_do_update(
        index_elements=["platform", "chat_id"], set_={"updated_at": statement.excluded.updated_at}
    ).returning(_TABLE.c.id, _TABLE.c.state, _TABLE.c.data, _TABLE.c.person_id)


_LOCK = Prepared({"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)})
_SAVE_STATEMENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("state_id"))
    .values(state=bindparam("state"), data=bindparam("data"),
            person_id=bindparam("state_person"), updated_at=bindparam("state_now"))
)
_SAVE = Prepared(_SAVE_STATEMENT)


def save_cte() -> CTE:
    """The state save as part of another statement: see `save_state`."""
    return _SAVE_STATEMENT.cte("state_save")


async def lock_state(
    session: AsyncSession, *, platform: str, chat_id: str, now: datetime
) -> ChatState:
    """The chat's state, its row created when missing and locked until the transaction ends."""
    row = await _LOCK.first(session, {"platform": platform, "chat_id": chat_id, "data": {},
                                      "now": now})
    assert row is not None  # an upsert always returns its row
    return chat_state(*row)


def chat_state(state_id: int, name: str, data: dict[str, Any] | None,
               person_id: int | None) -> ChatState:  # fmt: skip
    """The state as read from its row (id, state, data, person_id)."""
    state = ChatState(state_id, name, dict(data or {}), person_id)
    state._read = state.snapshot()
    return state


async def save_state(session: AsyncSession, state: ChatState, now: datetime) -> None:
    """Write the state back when the event changed it; updated_at says when it last did.

    A write still waiting for the transaction's next statement (an answer, on PostgreSQL)
    takes the save along when it can (see storage.db.prepared.Waiting): one statement."""
    if state.snapshot() == state._read:
        return
    values = {"state_id": state.id, "state": state.state, "data": state.data,
              "state_person": state.person_id, "state_now": now}
    carrier = take_state_carrier(session)
    if carrier is not None:
        statement, params = carrier
        await statement.rows(session, {**params, **values})
    else:
        await _SAVE.rows(session, values)
