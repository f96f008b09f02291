"""Routes each neutral Inbound to its handler, inside one transaction, in per-chat order.

Whatever happens inside a handler, the person gets an answer in their language and never a
traceback; an error rolls back only that event, so one person's problem stops no one else.
Replies are returned after the commit: an answer is acknowledged only once it is durable.
An event from a chat that is not private (a group) runs nothing personal: it goes to
handlers.group_chat before the sender's account is even read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from common.i18n import normalize_locale
from common.messages import Capabilities, Deliver, Inbound, InboundKind, Reply
from handlers import (
    account_link,
    appraisal_rounds,
    broadcast,
    checklist,
    conclusion,
    evidence,
    explain,
    export,
    onboarding,
    questions,
    remediation,
    review,
    self_score,
    stale_keyboards,
    status,
    team,
    team_review,
    upload_link,
    web_login,
)
from handlers.chat_menu import commands_for
from handlers.context import Deps, Turn
from handlers.group_chat import answer_group
from handlers.numbered import number_choices, numbered_choice
from handlers.tokens import StaleToken, Token, parse
from handlers.too_long import refused_as_too_long
from handlers.unit import roles
from storage.db import transaction
from storage.services.chat_open import open_chat
from storage.services.conversation_state import save_state
from storage.services.evidence import is_allowed
from storage.services.handled_updates import first_time

log = logging.getLogger(__name__)

Handler = Callable[[Turn], Awaitable[None]]
ChoiceHandler = Callable[[Turn, Token], Awaitable[None]]

COMMANDS: dict[str, Handler] = {
    "start": onboarding.start,
    "help": onboarding.help_,
    "lang": onboarding.language,
    "checklist": checklist.resume,
    "status": status.show_status,
    "review": review.show_review,
    "submit": review.ask_submit,
    "cancel": onboarding.cancel,
    "summary": team.show_summary,
    "broadcast": broadcast.start,
    "export": export.start,
    "hoi": questions.ask_command,
    "ask": questions.ask_command,
    "web": web_login.web,
    "khacphuc": remediation.khacphuc,
    "link": account_link.link,
    "lienket": account_link.link,
}

CHOICES: dict[str, ChoiceHandler] = {
    **checklist.CHOICES,
    **evidence.CHOICES,
    **review.CHOICES,
    **onboarding.CHOICES,
    **status.CHOICES,
    **team.CHOICES,
    **team_review.CHOICES,
    **questions.CHOICES,
    **broadcast.CHOICES,
    **export.CHOICES,
    **conclusion.CHOICES,
    **remediation.CHOICES,
    **upload_link.CHOICES,
    **self_score.CHOICES,
    **explain.CHOICES,
    **appraisal_rounds.CHOICES,
}

# What typed text, a file or a photo means in each conversation state.
STATE_TEXT: dict[str, Handler] = {
    "answer": checklist.typed_answer,
    "multi": checklist.typed_answer,
    "evidence": evidence.typed_in_evidence,
    "note": evidence.typed_note,
    **team_review.STATE_TEXT,
    **questions.STATE_TEXT,
    **broadcast.STATE_TEXT,
    **conclusion.STATE_TEXT,
    **remediation.STATE_TEXT,
    **self_score.STATE_TEXT,
    **explain.STATE_TEXT,
    **appraisal_rounds.STATE_TEXT,
}

# Files and photos go to the evidence step, unless the state wants them for something else.
STATE_FILE: dict[str, Handler] = {
    **broadcast.STATE_FILE,
    **remediation.STATE_FILE,
    **explain.STATE_FILE,
}


class Dispatcher:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def _chat_lock(self, key: tuple[str, str]) -> AsyncIterator[None]:
        """One event at a time per chat; the entry goes away with its last user."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def handle(self, inbound: Inbound, deliver: Deliver | None = None) -> list[Reply]:
        """Handle one event in its own transaction; its replies are returned and, with
        `deliver`, handed to it before the chat's next event starts (see Deliver)."""
        sender = inbound.sender
        async with self._chat_lock((sender.platform, sender.chat_id)):
            replies = await self._safely(inbound)
            if deliver is not None:
                try:
                    await deliver(replies)
                except Exception:  # the channel's own failure: never the next event's
                    log.exception(
                        "delivering replies to %s:%s failed", sender.platform, sender.chat_id
                    )
            return replies

    async def _safely(self, inbound: Inbound) -> list[Reply]:
        sender = inbound.sender
        prefetched = await self._prefetch(inbound)
        try:
            return await self._handle(inbound, prefetched)
        except Exception:
            log.exception(
                "handling %s from %s:%s failed", inbound.kind, sender.platform, sender.user_id
            )
            locale = normalize_locale(sender.language)
            return [Reply(self.deps.catalog.t(locale, "common.error"))]
        finally:
            if prefetched is not None:
                self.deps.evidence.discard(prefetched)  # kept files were moved already

    async def _prefetch(self, inbound: Inbound) -> Path | None:
        """Download an acceptable attachment before the transaction, so a slow download
        never holds the database's write lock. Refused files are not downloaded at all."""
        attachment = inbound.attachment
        if attachment is None or not inbound.sender.private or not is_allowed(attachment.file_name):
            return None
        if attachment.size == 0:  # nothing to fetch: the handler says the file is empty
            return None
        if attachment.size is not None and attachment.size > self.deps.max_evidence_bytes:
            return None
        path = self.deps.evidence.incoming_path()
        try:
            await attachment.download(path)
        except Exception:
            log.warning("download of %s failed", attachment.file_name, exc_info=True)
            self.deps.evidence.discard(path)
            return None
        return path

    async def _handle(self, inbound: Inbound, prefetched: Path | None) -> list[Reply]:
        deps, sender = self.deps, inbound.sender
        async with transaction(deps.sessions) as session:
            now = deps.clock.now()
            if not await self._first_time(session, inbound, now):
                return []  # answered the first time
            if not sender.private:  # a group: nothing personal, not even the account
                return await answer_group(deps, session, inbound, now)
            chat = await open_chat(
                session,
                platform=sender.platform,
                user_id=sender.user_id,
                chat_id=sender.chat_id,
                display_name=sender.display_name,
                username=sender.username,
                language_hint=sender.language,
                now=now,
            )
            account, state = chat.account, chat.state
            state.person_id = account.person_id
            locale = account.locale or normalize_locale(sender.language)
            turn = Turn(
                deps,
                session,
                inbound,
                account,
                state,
                deps.catalog.for_locale(locale),
                prefetched,
                roles=chat.roles,
            )
            await self._route(turn)
            self._present(turn)
            if turn.replies:
                last = turn.replies[-1]
                last.locale = turn.tr.locale
                last.menu = commands_for(await roles(turn), admin=turn.is_admin)
            await save_state(session, state, now)
        if turn.wrote_outbox:
            deps.on_outbox()
        return turn.replies

    async def _first_time(self, session: AsyncSession, inbound: Inbound, now: datetime) -> bool:
        """Record the event's update as handled, in the event's transaction; False for an
        update the platform delivered again after it was handled (and committed) once."""
        key, platform = inbound.update_key, inbound.sender.platform
        if key is None or await first_time(session, platform, key, now):
            return True
        log.info("%s update %s was handled already: not again", platform, key)
        return False

    async def _route(self, turn: Turn) -> None:
        inbound = turn.inbound
        if refused_as_too_long(turn):
            return
        if inbound.kind == InboundKind.TEXT:
            token = numbered_choice(turn.state.data, inbound.text)
            if token is not None:
                await self._choice(turn, token)
                return
        if inbound.kind == InboundKind.COMMAND:
            handler = COMMANDS.get(inbound.command or "", onboarding.unknown_command)
            await handler(turn)
        elif inbound.kind == InboundKind.CHOICE:
            await self._choice(turn, inbound.choice)
        elif inbound.kind in (InboundKind.FILE, InboundKind.PHOTO):
            await STATE_FILE.get(turn.state.state, evidence.received_file)(turn)
        elif inbound.kind == InboundKind.TEXT:
            await STATE_TEXT.get(turn.state.state, onboarding.idle_text)(turn)
        else:
            await onboarding.unsupported(turn)

    async def _choice(self, turn: Turn, raw: str | None) -> None:
        raw, stamp = stale_keyboards.split(raw)
        if stale_keyboards.is_stale(stamp, turn.state.data):
            text = turn.t("keyboards.stale")
            turn.say(text, toast=text)
            return
        token = parse(raw)
        handler = CHOICES.get(token.action) if token else None
        if token is None or handler is None:
            await onboarding.stale_button(turn)
            return
        said = len(turn.replies)
        try:
            await handler(turn, token)
        except StaleToken:  # a number no button of ours carries (read before any write)
            del turn.replies[said:]
            await onboarding.stale_button(turn)

    def _present(self, turn: Turn) -> None:
        """Buttons get the keyboard generation (handlers/stale_keyboards.py); channels
        without buttons (Zalo) get choices as a numbered list to answer with."""
        inbound = turn.inbound
        pressed = stale_keyboards.split(inbound.choice)[1] if inbound.choice else None
        turn.state.data = stale_keyboards.stamp_replies(
            turn.replies, turn.state.data, inbound.kind, pressed
        )
        caps = self.deps.capabilities.get(turn.account.platform, Capabilities())
        if caps.buttons:
            turn.state.data = {k: v for k, v in turn.state.data.items() if k != "numbered"}
            return
        # No buttons means no button toasts either: a toast-only reply becomes a message.
        turn.replies = [
            replace(r, text=r.toast) if not r.text and r.toast else r for r in turn.replies
        ]
        typed = bool(turn.state.data.get("typed"))
        hint = turn.tr("common.numbered_hint_hash" if typed else "common.numbered_hint")
        turn.replies, mapping = number_choices(turn.replies, hint, prefix="#" if typed else "")
        turn.state.data = {**turn.state.data, "numbered": mapping}
