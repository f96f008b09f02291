"""What every chat event starts with: the chat's conversation state, locked for the event,
the sender's account and their roles.

On PostgreSQL each statement is a round trip to another process, and reading these three
one after another was the largest part of what an event cost there. So they are read in one
statement when nothing stands in the way:

- the state row is locked with FOR UPDATE SKIP LOCKED: when another event of the same chat
  (in another process) holds it, nothing comes back and we wait the usual way;
- the account, the roles and the answers of the roles' reports (for storage.services.submissions.
  answer_states) are read in the same statement, from the snapshot the statement started
  with. An event of the chat that committed between that snapshot and our lock
  would not be in them: the row we locked then is not the row the snapshot holds (`fresh`
  compares their ctid), and we read everything again after the lock, the usual way.

The usual way (and all of SQLite, where statements are calls in the same process): lock the
state with an upsert, then read the account; the roles are read when a handler needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table, bindparam, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.engine import dialect_name
from storage.db.models import Campaign, ConversationState, Membership
from storage.db.prepared import Prepared
from storage.services.conversation_state import ChatState, chat_state, lock_state
from storage.services.people import (
    ACCOUNT_COLUMNS,
    SUBMISSION_ID_AT,
    ChatUser,
    PersonRole,
    account_for,
    account_select,
    role_select,
    roles_from_rows,
    settle_account,
)
from storage.services.submissions import keep_states, states_select


@dataclass
class OpenedChat:
    account: ChatUser
    state: ChatState
    roles: list[PersonRole] | None  # None: read when a handler asks (storage.services.people.roles_of)


def _statement() -> Any:
    chats: Table = ConversationState.__table__  # type: ignore[assignment]
    locked = (
        select(chats.c.id, chats.c.state, chats.c.data, chats.c.person_id,
               literal_column("ctid").label("version"))
        .where(chats.c.platform == bindparam("platform"),
               chats.c.chat_id == bindparam("chat_id"))
        .with_for_update(skip_locked=True)
        .cte("locked").prefix_with("MATERIALIZED")  # locked once, before the joins
    )
    seen = (select(literal_column("conversation_states.ctid")).select_from(chats)
            .where(chats.c.id == locked.c.id).scalar_subquery())  # the snapshot's row
    account = account_select().subquery("account")
    roles = (role_select(Campaign.created_at.label("campaign_created"))
             .where(Membership.person_id == account.c.person_id)
             .lateral("roles"))
    answers = states_select(list(roles.c)[SUBMISSION_ID_AT], within=roles).subquery("answers")
    states = select(func.json_agg(func.json_build_array(*answers.c), type_=JSON))
    return (
        select(locked.c.id, locked.c.state, locked.c.data, locked.c.person_id,
               (locked.c.version == seen).label("fresh"), *account.c, *roles.c,
               states.scalar_subquery())
        .select_from(locked.outerjoin(account, true()).outerjoin(roles, true()))
        .order_by(roles.c.campaign_created.desc(), roles.c.id)  # as roles_of: newest first
    )


_OPEN = Prepared({"postgresql": _statement()})
_STATE = slice(0, 4)
_FRESH = 4
_ACCOUNT = slice(5, 5 + len(ACCOUNT_COLUMNS))
_ROLES = slice(_ACCOUNT.stop, -1)  # then the answers of the role's report, as JSON


async def open_chat(session: AsyncSession, *, platform: str, user_id: str, chat_id: str,
                    now: datetime, **profile: Any) -> OpenedChat:  # fmt: skip
    """`profile`: the sender's display_name, username and language_hint, as the platform
    gives them now (see storage.services.people.settle_account)."""
    details = {"platform": platform, "user_id": user_id, "chat_id": chat_id, "now": now,
               **profile}
    if dialect_name(session) == "postgresql":
        rows = await _OPEN.rows(session, {"platform": platform, "chat_id": chat_id,
                                          "user_id": user_id})
        if rows and rows[0][_FRESH]:
            return await _opened(session, rows, details)
    state = await lock_state(session, platform=platform, chat_id=chat_id, now=now)
    account = await account_for(session, **details)
    return OpenedChat(account, state, None)


async def _opened(session: AsyncSession, rows: list[tuple[Any, ...]],
                  details: dict[str, Any]) -> OpenedChat:  # fmt: skip
    first = rows[0]
    known = first[_ACCOUNT][0] is not None  # no account yet: a new person, without roles
    account = await settle_account(session, first[_ACCOUNT] if known else None, **details)
    roles = []
    for row in rows:
        role = row[_ROLES]
        if role[0] is None:  # no role: the one row holds the state and the account only
            continue
        roles.append(role)
        if role[SUBMISSION_ID_AT] is not None:  # a unit contact's: their report's answers
            keep_states(session, role[SUBMISSION_ID_AT], row[-1] or [])
    return OpenedChat(account, chat_state(*first[_STATE]), roles_from_rows(session, roles))
