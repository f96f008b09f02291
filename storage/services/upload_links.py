"""Personal upload links: a page where a unit contact adds documents to one item.

Zalo carries no documents, so the bot sends a link instead (handlers/upload_link.py). The
token is random (secrets, 256 bits) and only its SHA-256 is stored, as for the console's
sign-in links; the row binds it to one person, the chat that asked, one unit's report and
one item, and it works until it expires or is revoked (a new link for the same item, or
signing out everywhere, revokes the old ones). The functions flush but never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import UploadLink

UPLOAD_LINK_TTL = timedelta(hours=24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_upload_link(
    session: AsyncSession,
    *,
    person_id: int,
    chat_account_id: int,
    assignment_id: int,
    item_id: int,
    now: datetime,
    ttl: timedelta = UPLOAD_LINK_TTL,
) -> str:
    """A new link's token for the item; the person's earlier links for it stop working."""
    await session.execute(
        update(UploadLink)
        .where(
            UploadLink.person_id == person_id,
            UploadLink.assignment_id == assignment_id,
            UploadLink.item_id == item_id,
            UploadLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        UploadLink(
            token_hash=token_hash(token),
            person_id=person_id,
            chat_account_id=chat_account_id,
            assignment_id=assignment_id,
            item_id=item_id,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    await session.flush()
    return token


async def live_upload_link(
    session: AsyncSession, token: str, *, now: datetime
) -> UploadLink | None:
    """The link of `token` while it works; None for an unknown, expired or revoked one."""
    if not token:
        return None
    return await session.scalar(
        select(UploadLink).where(
            UploadLink.token_hash == token_hash(token),
            UploadLink.revoked_at.is_(None),
            UploadLink.expires_at > now,
        )
    )


async def revoke_upload_links(session: AsyncSession, person_id: int, *, now: datetime) -> int:
    """Stop every live upload link of the person; how many."""
    result = await session.execute(
        update(UploadLink)
        .where(
            UploadLink.person_id == person_id,
            UploadLink.revoked_at.is_(None),
            UploadLink.expires_at > now,
        )
        .values(revoked_at=now)
        .returning(UploadLink.id)
    )
    return len(result.scalars().all())
