"""Group chats (and channels): the bot works in private chat only.

In a chat that is not one-to-one, nothing personal runs: no command, no button, no code is
redeemed, no file is downloaded, and the sender's account is not created, nor moved to the
group: its chat stays their private chat, where reminders and alerts go (an account that a
group message moved there before this rule goes back: people.keep_private_chat). Whatever
a unit or a team has is never shown where others read along. The bot says so, briefly and
not on every message: a plain message gets the note once per group, a command again only
after `REMIND_AFTER`; a pressed button (an old one, from before this rule) gets it as a
toast, which only the presser sees. The note is in Vietnamese, the groups' language; the
toast in the presser's.

A code posted in a group is seen by everyone there: the bot says it was not used and
should be sent privately at once (or replaced). That warning is never held back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from common.i18n import DEFAULT_LOCALE, normalize_locale
from common.messages import Inbound, InboundKind, Reply
from handlers.context import Deps
from storage.services.conversation_state import ChatState, lock_state, save_state
from storage.services.invite_codes import looks_like_code
from storage.services.people import keep_private_chat

REMIND_AFTER = timedelta(minutes=10)
TOLD_AT = "private_only_at"  # in the group's conversation state: when the note was given


async def answer_group(
    deps: Deps, session: AsyncSession, inbound: Inbound, now: datetime
) -> list[Reply]:
    """The whole handling of an event from a non-private chat, in its transaction."""
    sender = inbound.sender
    state = await lock_state(session, platform=sender.platform, chat_id=sender.chat_id, now=now)
    await keep_private_chat(
        session, platform=sender.platform, user_id=sender.user_id, group_chat_id=sender.chat_id
    )
    replies = _replies(deps, inbound, state, now)
    await save_state(session, state, now)
    return replies


def _replies(deps: Deps, inbound: Inbound, state: ChatState, now: datetime) -> list[Reply]:
    if inbound.kind == InboundKind.CHOICE:
        locale = normalize_locale(inbound.sender.language)
        return [Reply("", toast=deps.catalog.t(locale, "group.private_only_toast"))]
    posted_code = _posted_code(inbound)
    if not (posted_code or _note_due(inbound, state, now)):
        return []
    state.data = {**state.data, TOLD_AT: now.isoformat()}
    parts = [deps.catalog.t(DEFAULT_LOCALE, "group.private_only")]
    if posted_code:
        parts.append(deps.catalog.t(DEFAULT_LOCALE, "group.code_not_used"))
    if deps.bot_username and inbound.sender.platform == "telegram":
        link = f"https://t.me/{deps.bot_username.lstrip('@')}"
        parts.append(deps.catalog.t(DEFAULT_LOCALE, "group.open_private", link=link))
    return [Reply("\n\n".join(parts))]


def _note_due(inbound: Inbound, state: ChatState, now: datetime) -> bool:
    told = state.data.get(TOLD_AT)
    if told is None:
        return True
    return (
        inbound.kind == InboundKind.COMMAND and now - datetime.fromisoformat(told) >= REMIND_AFTER
    )


def _posted_code(inbound: Inbound) -> bool:
    """`/start CODE` or a typed code: what would redeem a code in a private chat."""
    typed = inbound.kind == InboundKind.TEXT or (
        inbound.kind == InboundKind.COMMAND and inbound.command == "start"
    )
    return typed and looks_like_code(inbound.text.strip())
