"""One person on several channels: /link codes, and which of their chats the bot writes to.

/link on one channel gives a one-time code (8 characters from an alphabet without look-alike
letters, 40 bits, valid 10 minutes, only its SHA-256 kept); typing `/link CODE` on another
channel makes that chat the same person's. A person has at most one account per platform.
A chat whose own person already has roles is not merged into another person (their roles
would need merging too): it is refused, and the person links from that chat instead.

Linked accounts carry `last_used_at` (set at the link, then by every message the person
sends, see people.settle_account). Outbox rows for a linked person go to the account they
used last that is reachable (`route`), and to another of theirs when that one fails for good
(`fallback`). The functions flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import ChatAccount, LinkCode
from storage.services import audit

CODE_TTL = timedelta(minutes=10)
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: typed from another screen
CODE_LENGTH = 8


class Refusal(StrEnum):
    UNKNOWN = "unknown"  # wrong, expired or used already
    SAME = "same"  # typed on a chat of the person who asked for it
    PLATFORM_TAKEN = "platform_taken"  # they already have another chat on this platform
    HAS_ROLES = "has_roles"  # this chat's own person has roles: not merged


@dataclass(frozen=True)
class Linked:
    person_id: int
    other_platform: str  # where the code was asked for


def shown(code: str) -> str:
    """ABCD-EFGH: easier to read and type."""
    return f"{code[:4]}-{code[4:]}"


def _normal(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _hash(code: str) -> str:
    return hashlib.sha256(_normal(code).encode()).hexdigest()


async def issue_code(
    session: AsyncSession, *, person_id: int, account_id: int, now: datetime
) -> str:
    """A new code for the person (their earlier unused ones stop working)."""
    await session.execute(
        delete(LinkCode).where(LinkCode.person_id == person_id, LinkCode.used_at.is_(None))
    )
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        LinkCode(
            code_hash=_hash(code),
            person_id=person_id,
            account_id=account_id,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    )
    await session.flush()
    return shown(code)


async def redeem_code(
    session: AsyncSession,
    text: str,
    *,
    account_id: int,
    person_id: int,
    platform: str,
    has_roles: bool,
    now: datetime,
) -> Linked | Refusal:
    """Make the chat account `account_id` (of `person_id`) the code's person's."""
    found = await session.scalar(select(LinkCode).where(LinkCode.code_hash == _hash(text)))
    if found is None or found.used_at is not None or found.expires_at <= now:
        return Refusal.UNKNOWN
    if found.person_id == person_id:
        return Refusal.SAME
    theirs = list(
        await session.scalars(select(ChatAccount).where(ChatAccount.person_id == found.person_id))
    )
    if any(a.platform == platform for a in theirs):
        return Refusal.PLATFORM_TAKEN
    if has_roles:
        return Refusal.HAS_ROLES
    spent = await session.execute(
        update(LinkCode)
        .where(LinkCode.id == found.id, LinkCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(spent, "rowcount", 0):  # another chat used it a moment ago
        return Refusal.UNKNOWN
    asked_from = next((a for a in theirs if a.id == found.account_id), None)
    for other in theirs:  # linked accounts carry when they were last used
        if other.last_used_at is None:
            other.last_used_at = found.created_at if other is asked_from else other.created_at
    await session.execute(
        update(ChatAccount)
        .where(ChatAccount.id == account_id)
        .values(person_id=found.person_id, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    await audit.record(
        session,
        now=now,
        action="chat.linked",
        actor_id=found.person_id,
        subject=f"{platform}:{account_id}",
        details={"from_person": person_id},
    )
    await session.flush()
    other_platform = asked_from.platform if asked_from is not None else ""
    return Linked(found.person_id, other_platform)


async def linked_accounts(session: AsyncSession, person_id: int) -> list[ChatAccount]:
    """A linked person's reachable accounts, the one used last first."""
    return list(
        await session.scalars(
            select(ChatAccount)
            .where(
                ChatAccount.person_id == person_id,
                ChatAccount.unreachable_at.is_(None),
                ChatAccount.last_used_at.is_not(None),
            )
            .order_by(ChatAccount.last_used_at.desc(), ChatAccount.id)
        )
    )


async def canonical_accounts(session: AsyncSession) -> dict[int, int]:
    """Every linked account -> its person's first account (the lowest id): outbox rows
    planned once per account collapse into one per person under it (outbox.enqueue_many)."""
    rows = (
        await session.execute(
            select(ChatAccount.id, ChatAccount.person_id).where(
                ChatAccount.last_used_at.is_not(None)
            )
        )
    ).all()
    first: dict[int, int] = {}
    for account_id, person_id in rows:
        first[person_id] = min(first.get(person_id, account_id), account_id)
    return {account_id: first[person_id] for account_id, person_id in rows}
