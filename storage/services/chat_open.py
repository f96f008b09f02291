"""What every chat event starts with: the chat's conversation state, locked for the event,
the sender's account (created on first contact) and their roles. Two statements: the lock
first, so what is read after it is what the chat's previous event committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.services.conversation_state import ChatState, lock_state
from storage.services.people import ChatUser, PersonRole, sender_with_roles


@dataclass
class OpenedChat:
    account: ChatUser
    state: ChatState
    roles: list[PersonRole]


async def open_chat(session: AsyncSession, *, platform: str, user_id: str, chat_id: str,
                    now: datetime, **profile: Any) -> OpenedChat:  # fmt: skip
    """`profile`: the sender's display_name, username and language_hint, as the platform
    gives them now (see storage.services.people.settle_account). The state is locked
    first, so two events of one chat (in two processes) run one after the other."""
    state = await lock_state(session, platform=platform, chat_id=chat_id, now=now)
    account, roles = await sender_with_roles(session, platform=platform, user_id=user_id,
                                             chat_id=chat_id, now=now, **profile)
    return OpenedChat(account, state, roles)
