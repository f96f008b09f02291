"""What a handler works with: the long-lived dependencies and the per-event `Turn`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.clock import Clock
from common.i18n import Catalog, Translator
from common.messages import Capabilities, Choice, Inbound, OutFile, Reply
from handlers.invite_guard import InviteGuard
from storage.formats.conclusion_docx import NoticeSettings
from storage.services.checklist import ChecklistCache
from storage.services.conversation_state import ChatState
from storage.services.evidence import EvidenceStore
from storage.services.people import ChatUser, PersonRole


@dataclass
class Deps:
    """Built once by the composition root and shared by every event."""

    sessions: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    evidence: EvidenceStore
    checklists: ChecklistCache = field(default_factory=ChecklistCache)
    capabilities: Mapping[str, Capabilities] = field(default_factory=dict)
    admin_ids: Mapping[str, frozenset[str]] = field(default_factory=dict)  # platform -> ids
    max_evidence_bytes: int = 20 * 1024 * 1024
    bad_code_limit: int = 5  # wrong invite codes allowed per window, per chat
    bad_code_window_s: int = 600
    invite_guard: InviteGuard = field(default_factory=InviteGuard)  # and across all chats
    bot_username: str | None = None
    console_url: str | None = None  # PUBLIC_URL of the desk console; None: not served
    upload_url: str | None = None  # PUBLIC_URL when the console is served: upload links
    on_outbox: Callable[[], None] = lambda: None  # wakes the delivery worker
    notice: NoticeSettings = field(default_factory=NoticeSettings)  # conclusion .docx


@dataclass
class Turn:
    """One inbound event being handled: one session, one transaction, replies collected."""

    deps: Deps
    session: AsyncSession
    inbound: Inbound
    account: ChatUser
    state: ChatState
    tr: Translator
    prefetched: Path | None = None  # an attachment already downloaded to .incoming/
    replies: list[Reply] = field(default_factory=list)
    roles: list[PersonRole] | None = None  # loaded on demand
    wrote_outbox: bool = False  # wake the delivery worker once this event is committed

    @property
    def person(self) -> ChatUser:
        """The person behind the chat account (id, full_name, locale, is_admin)."""
        return self.account

    @property
    def now(self) -> Any:
        return self.deps.clock.now()

    @property
    def is_admin(self) -> bool:
        ids = self.deps.admin_ids.get(self.account.platform, frozenset())
        return self.person.is_admin or self.account.user_id in ids

    def say(
        self,
        text: str,
        choices: list[list[Choice]] | None = None,
        *,
        edit: bool = False,
        toast: str | None = None,
        document: OutFile | None = None,
        photo: OutFile | None = None,
    ) -> None:
        self.replies.append(
            Reply(
                text=text,
                choices=choices or [],
                edit=edit,
                toast=toast,
                document=document,
                photo=photo,
            )
        )

    def t(self, key: str, /, **params: Any) -> str:
        return self.tr(key, **params)

    def button(self, key: str, token: str, **params: Any) -> Choice:
        return Choice(self.tr(key, **params), token)

    def set_state(self, name: str, **data: Any) -> None:
        """Move to a conversation state, keeping the long-lived keys (active role...)."""
        kept = {k: v for k, v in self.state.data.items() if k in _STICKY}
        self.state.state = name
        self.state.data = {**kept, **data}

    def remember(self, **data: Any) -> None:
        self.state.data = {**self.state.data, **data}


# Keys of ConversationState.data that survive a change of state.
_STICKY = frozenset({"role", "bad_codes", "kb"})  # kb: handlers/stale_keyboards.py
