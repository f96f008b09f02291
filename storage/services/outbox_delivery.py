"""Claiming and marking outbox rows for the delivery worker (the states are explained in
storage/services/outbox.py). Each function flushes; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.db import dialect_name
from storage.db.models import ChatAccount, OutboxMessage, OutboxStatus
from storage.services.account_links import linked_accounts

_ERROR_LENGTH = 500  # OutboxMessage.last_error
_REASON_LENGTH = 200  # ChatAccount.unreachable_reason
SKIPPED_UNREACHABLE = "not sent: the chat was unreachable (the person has not written since)"
UNREACHABLE_MOVED = "unreachable there, sent on the person's other channel: "
IN_DOUBT_ERROR = "in doubt: the process stopped while this message was being sent"


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    platform: str | None = None,
) -> list[OutboxMessage]:
    """Take up to `limit` PENDING rows due at `now`, oldest first, for `worker_id`.

    They become CLAIMED (claimed_at, claimed_by); the chat account and its person come
    loaded for rendering. Rows for an unreachable chat become UNREACHABLE instead and are
    not returned. Commit before sending anything.
    """
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now)
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
        .options(selectinload(OutboxMessage.chat_account))
    )
    if platform is not None:
        statement = statement.join(ChatAccount).where(ChatAccount.platform == platform)
    if dialect_name(session) == "postgresql":
        # Lock only outbox rows; rows another worker holds are skipped, not waited for.
        statement = statement.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = list((await session.scalars(statement)).all())
    claimed = []
    for row in rows:
        if row.chat_account.last_used_at is not None:  # a person on several channels
            target = await _route(session, row)
            if target is not None and platform is not None and target.platform != platform:
                continue  # re-addressed: that platform's next claim takes it
        if row.chat_account.unreachable_at is not None:
            row.status = OutboxStatus.UNREACHABLE
            row.last_error = SKIPPED_UNREACHABLE
            continue
        row.status = OutboxStatus.CLAIMED
        row.claimed_at = now
        row.claimed_by = worker_id
        claimed.append(row)
    await session.flush()
    return claimed


async def _route(session: AsyncSession, row: OutboxMessage) -> ChatAccount | None:
    """Address the row to its person's account used last that is reachable; None when
    none is (the row keeps its account, and its claim marks it UNREACHABLE)."""
    accounts = await linked_accounts(session, row.chat_account.person_id)
    if not accounts:
        return None
    if accounts[0].id != row.chat_account_id:
        row.chat_account_id = accounts[0].id
        row.chat_account = accounts[0]
    return accounts[0]


async def _apply(session: AsyncSession, statement: Any) -> bool:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


def _row_in(message_id: int, *states: OutboxStatus) -> Any:
    return update(OutboxMessage).where(
        OutboxMessage.id == message_id, OutboxMessage.status.in_(states)
    )


async def mark_sending(
    session: AsyncSession, message_id: int, *, worker_id: str, now: datetime
) -> bool:
    """CLAIMED by `worker_id` -> SENDING, attempts + 1: its request goes out right after the
    commit. False if the row is no longer this worker's claim (do not send it then)."""
    statement = (
        _row_in(message_id, OutboxStatus.CLAIMED)
        .where(OutboxMessage.claimed_by == worker_id)
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
    )
    return await _apply(session, statement)


async def mark_sent(
    session: AsyncSession, message_id: int, *, now: datetime, platform_message_id: str | None
) -> bool:
    """SENT, with the platform's message id. A row that recovery wrote off as IN_DOUBT while
    a slow worker still held it is corrected too: it did go out."""
    statement = _row_in(message_id, OutboxStatus.SENDING, OutboxStatus.IN_DOUBT).values(
        status=OutboxStatus.SENT,
        sent_at=now,
        platform_message_id=platform_message_id,
        last_error=None,
    )
    return await _apply(session, statement)


async def mark_retry(
    session: AsyncSession,
    message_id: int,
    *,
    not_before: datetime,
    error: str | None,
    refund_attempt: bool = False,
) -> bool:
    """Back to PENDING (from CLAIMED or SENDING), due again at `not_before`.
    `refund_attempt` undoes mark_sending's attempts + 1 when the message itself was not at
    fault (a rate limit)."""
    values: dict[str, Any] = {
        "status": OutboxStatus.PENDING,
        "not_before": not_before,
        "claimed_at": None,
        "claimed_by": None,
    }
    if error is not None:
        values["last_error"] = error[:_ERROR_LENGTH]
    if refund_attempt:
        values["attempts"] = OutboxMessage.attempts - 1
    statement = _row_in(message_id, OutboxStatus.CLAIMED, OutboxStatus.SENDING)
    return await _apply(session, statement.values(**values))


async def mark_failed(session: AsyncSession, message_id: int, *, error: str) -> bool:
    """FAILED for good: the platform refused the message, or retries ran out."""
    statement = _row_in(message_id, OutboxStatus.CLAIMED, OutboxStatus.SENDING).values(
        status=OutboxStatus.FAILED, last_error=error[:_ERROR_LENGTH]
    )
    return await _apply(session, statement)


async def mark_unreachable(
    session: AsyncSession, message_id: int, *, now: datetime, reason: str
) -> bool:
    """UNREACHABLE, and the chat account remembers it (blocked the bot, chat gone), so
    later messages to it are skipped until the person writes again."""
    account_id = await session.scalar(
        select(OutboxMessage.chat_account_id).where(OutboxMessage.id == message_id)
    )
    marked = await _apply(
        session,
        _row_in(message_id, OutboxStatus.SENDING).values(
            status=OutboxStatus.UNREACHABLE, last_error=reason[:_ERROR_LENGTH]
        ),
    )
    if marked and account_id is not None:
        await session.execute(
            update(ChatAccount)
            .where(ChatAccount.id == account_id)
            .values(unreachable_at=now, unreachable_reason=reason[:_REASON_LENGTH])
            .execution_options(synchronize_session=False)
        )
        await _try_another_channel(session, message_id, account_id, now=now, reason=reason)
    return marked


async def _try_another_channel(
    session: AsyncSession, message_id: int, account_id: int, *, now: datetime, reason: str
) -> None:
    """A linked person's message that could not reach one chat goes to their other one."""
    person_id = await session.scalar(
        select(ChatAccount.person_id).where(
            ChatAccount.id == account_id, ChatAccount.last_used_at.is_not(None)
        )
    )
    if person_id is None:
        return
    others = [a for a in await linked_accounts(session, person_id) if a.id != account_id]
    if not others:
        return
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(
            status=OutboxStatus.PENDING,
            chat_account_id=others[0].id,
            not_before=now,
            claimed_at=None,
            claimed_by=None,
            last_error=f"{UNREACHABLE_MOVED}{reason}"[:_ERROR_LENGTH],
        )
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class Recovered:
    released: list[int]  # CLAIMED, never started: PENDING again, sent as usual
    in_doubt: list[int]  # SENDING when their worker died: IN_DOUBT


@dataclass(frozen=True)
class DeadWorkers:
    """Whose claims are a dead worker's.

    `instance` names this deployment's process (one process per name, e.g. the host name):
    every claim by another worker id of the same instance is a predecessor's, left by a
    crash, and is recovered at once. Claims of other instances are recovered only when
    older than the timeouts, which must exceed the longest a live worker holds a claim.
    """

    now: datetime
    worker_id: str
    instance: str | None
    claim_timeout: timedelta  # CLAIMED longer than this: its worker is gone
    send_timeout: timedelta  # SENDING longer than this: its worker is gone

    def holds(self, state: OutboxStatus, timeout: timedelta) -> ColumnElement[bool]:
        stale = OutboxMessage.claimed_at < self.now - timeout
        if self.instance is not None:
            predecessor = and_(
                OutboxMessage.claimed_by.startswith(f"{self.instance}:", autoescape=True),
                OutboxMessage.claimed_by != self.worker_id,
            )
            stale = or_(stale, predecessor)
        return and_(OutboxMessage.status == state, stale)


async def _ids(session: AsyncSession, where: ColumnElement[bool]) -> list[int]:
    statement = select(OutboxMessage.id).where(where).order_by(OutboxMessage.id)
    if dialect_name(session) == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return list((await session.scalars(statement)).all())


async def recover_claims(session: AsyncSession, dead: DeadWorkers) -> Recovered:
    """Claims dead workers left: never-started rows go out again, started ones are in
    doubt (see the module docstring of storage/services/outbox.py)."""
    released = await _ids(session, dead.holds(OutboxStatus.CLAIMED, dead.claim_timeout))
    in_doubt = await _ids(session, dead.holds(OutboxStatus.SENDING, dead.send_timeout))
    if released:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(released))
            .values(status=OutboxStatus.PENDING, claimed_at=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
    if in_doubt:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(in_doubt))
            .values(status=OutboxStatus.IN_DOUBT, last_error=IN_DOUBT_ERROR)
            .execution_options(synchronize_session=False)
        )
    return Recovered(released, in_doubt)


async def resend_in_doubt(
    session: AsyncSession, *, now: datetime, notice_id: int | None = None
) -> int:
    """An admin's decision: send the IN_DOUBT rows (of one notice, or all) again, knowing
    that some of them may have arrived. Returns how many were put back."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.IN_DOUBT)
        .values(status=OutboxStatus.PENDING, not_before=now, claimed_at=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    if notice_id is not None:
        statement = statement.where(OutboxMessage.notice_id == notice_id)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
