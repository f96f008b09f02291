"""The desk console's sign-in: one-time links and server-side browser sessions.

A link is asked for in chat (/web) or from the CLI, valid a few minutes, used once. Using
it opens a session whose cookie token is random (secrets) and stored only as its SHA-256
(the tokens carry 256 bits, so a plain hash is enough: nothing to brute-force). A session
ends when idle too long, at its absolute limit, or when revoked (sign out everywhere).
The functions flush but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_datetime
from storage.db.models import ChatAccount, Person, WebLoginLink, WebSession
from storage.services import audit
from storage.services.outbox import enqueue_many
from storage.services.upload_links import revoke_upload_links

LINK_TTL = timedelta(minutes=10)
IDLE_TTL = timedelta(hours=2)
ABSOLUTE_TTL = timedelta(hours=12)
_BROWSER_LENGTH = 200  # WebSession.browser
SIGNED_IN_TEMPLATE = "console.signed_in"


async def find_person(session: AsyncSession, spec: str) -> Person | None:
    """A person named on the command line: their id ("12"), a chat account
    ("telegram:123456"), or their exact full name when only one person has it."""
    spec = spec.strip()
    if spec.isdigit():
        return await session.get(Person, int(spec))
    platform, _, user_id = spec.partition(":")
    if user_id:
        account = await session.scalar(
            select(ChatAccount).where(
                ChatAccount.platform == platform, ChatAccount.user_id == user_id
            )
        )
        return account.person if account else None
    named = (await session.scalars(select(Person).where(Person.full_name == spec).limit(2))).all()
    return named[0] if len(named) == 1 else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    token: str  # for the cookie; never stored
    csrf_token: str
    person_id: int
    browser: str


async def issue_link(
    session: AsyncSession, person_id: int, *, now: datetime, ttl: timedelta = LINK_TTL
) -> str:
    """A new one-time sign-in token for `person_id` (the link's last part)."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebLoginLink(
            token_hash=token_hash(token), person_id=person_id, created_at=now, expires_at=now + ttl
        )
    )
    await session.flush()
    return token


async def redeem_link(
    session: AsyncSession, token: str, *, now: datetime, browser: str
) -> OpenedSession | None:
    """Use a link once: a new session, or None for an unknown, used or expired link.
    The update is conditional, so two browsers racing for one link get one session."""
    used = await session.execute(
        update(WebLoginLink)
        .where(
            WebLoginLink.token_hash == token_hash(token),
            WebLoginLink.used_at.is_(None),
            WebLoginLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(WebLoginLink.person_id)
    )
    person_id = used.scalar_one_or_none()
    if person_id is None:
        return None
    return await start_session(session, person_id, now=now, browser=browser)


async def start_session(
    session: AsyncSession, person_id: int, *, now: datetime, browser: str, tell: bool = True
) -> OpenedSession:
    """A new browser session for the person, the chat told (`tell`): after a link was
    used, or (untold) when the demo's person switcher signs the visitor in."""
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    browser = browser[:_BROWSER_LENGTH]
    row = WebSession(
        token_hash=token_hash(cookie),
        csrf_token=csrf,
        person_id=person_id,
        browser=browser,
        created_at=now,
        last_seen_at=now,
        expires_at=now + ABSOLUTE_TTL,
    )
    session.add(row)
    await audit.record(
        session, now=now, action="web.signed_in", actor_id=person_id, details={"browser": browser}
    )
    await session.flush()
    if tell:
        await _tell_chats(session, row, now)
    return OpenedSession(cookie, csrf, person_id, browser)


async def _tell_chats(session: AsyncSession, row: WebSession, now: datetime) -> None:
    """ "Signed in from <browser>" to each of the person's reachable chats: if it was not
    them, they see it where they are and can answer /web off."""
    person_id, browser = row.person_id, row.browser
    accounts = await session.scalars(
        select(ChatAccount).where(
            ChatAccount.person_id == person_id, ChatAccount.unreachable_at.is_(None)
        )
    )
    params = {"browser": browser or "?", "time": fmt_datetime(now)}
    await enqueue_many(
        session,
        [
            {
                "dedupe_key": f"web-signed-in:{row.id}:{a.id}",
                "kind": "alert",
                "chat_account_id": a.id,
                "person_id": person_id,
                "template": SIGNED_IN_TEMPLATE,
                "params": params,
                "not_before": now,
                "created_at": now,
            }
            for a in accounts
        ],
    )


async def live_session(
    session: AsyncSession, token: str | None, *, now: datetime
) -> WebSession | None:
    """The open session of a cookie token (its idle clock restarted), else None."""
    if not token:
        return None
    row = await session.scalar(
        select(WebSession).where(
            WebSession.token_hash == token_hash(token),
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
            WebSession.last_seen_at > now - IDLE_TTL,
        )
    )
    if row is not None:
        row.last_seen_at = now
    return row


async def revoke_all(session: AsyncSession, person_id: int, *, now: datetime) -> int:
    """Sign `person_id` out of every browser; the number of sessions closed."""
    result = await session.execute(
        update(WebSession)
        .where(
            WebSession.person_id == person_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        .values(revoked_at=now)
        .returning(WebSession.id)
    )
    closed = len(result.scalars().all())
    await revoke_upload_links(session, person_id, now=now)  # the same person's item links
    await audit.record(
        session, now=now, action="web.signed_out", actor_id=person_id, details={"sessions": closed}
    )
    return closed
