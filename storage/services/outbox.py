"""The transactional outbox: what the bot says on its own is written here, in the same
transaction as the fact that caused it, and delivered later by schedules/delivery.py.

`dedupe_key` is unique, so planning the same message twice inserts it once.

Delivery is AT MOST ONCE. A worker claims rows (PENDING -> SENDING, committed) before it
sends anything, and marks each row after the platform answered. If the process dies in
between, nobody can tell whether the platform got the message, so `recover_stale_claims`
never sends such a row again: it marks it FAILED with `INTERRUPTED`. The price is that a
message can be lost in a crash (visible in the outbox, with that error, for an admin to
resend); the alternative, at-least-once, would send a reminder twice to an officer on every
crash, and a duplicate official notice is worse than a visible gap.

Concurrency: on PostgreSQL `claim_due` locks rows with SELECT ... FOR UPDATE SKIP LOCKED,
so several workers (processes, hosts) never claim the same row. On SQLite it is a plain
select followed by an update: exactly ONE process may run the delivery worker there.

The functions flush but never commit: the caller owns the transaction, and must commit the
claim before sending.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.db import dialect_name
from storage.db.models import ChatAccount, OutboxMessage, OutboxStatus

# A button in an outbox message: the label is a catalog key, rendered at delivery time.
BUTTONS_PARAM = "_buttons"  # params[BUTTONS_PARAM] = [[{"label": key, "token": token}], ...]
# A document sent with the message: params[DOCUMENT_PARAM] = {"path": str, "name": str}.
DOCUMENT_PARAM = "_document"
# last_error of a row whose delivery a crash left uncertain (see the module docstring).
INTERRUPTED = "interrupted: delivery uncertain"
_ERROR_LENGTH = 500  # OutboxMessage.last_error
_REASON_LENGTH = 200  # ChatAccount.unreachable_reason


def button(label_key: str, token: str) -> dict[str, str]:
    return {"label": label_key, "token": token}


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows, silently skipping those whose dedupe_key already exists.

    Each row needs: dedupe_key, kind, chat_account_id, template, not_before, created_at;
    optional: campaign_id, notice_id, person_id, params.
    """
    if not rows:
        return
    values = [
        {"status": OutboxStatus.PENDING.value, "params": {}, "attempts": 0, **r} for r in rows
    ]
    dialect = dialect_name(session)
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Core, not the ORM bulk path: a reminder pass may write tens of thousands of rows.
    table = cast(Table, OutboxMessage.__table__)
    statement = builder(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
    connection = await session.connection()
    await connection.execute(statement, values)


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    kind: str,
    chat_account_id: int,
    template: str,
    now: datetime,
    params: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    person_id: int | None = None,
    campaign_id: int | None = None,
    notice_id: int | None = None,
) -> None:
    await enqueue_many(
        session,
        [
            {
                "dedupe_key": dedupe_key,
                "kind": kind,
                "chat_account_id": chat_account_id,
                "template": template,
                "params": params or {},
                "not_before": not_before or now,
                "created_at": now,
                "person_id": person_id,
                "campaign_id": campaign_id,
                "notice_id": notice_id,
            }
        ],
    )


# -- delivery -------------------------------------------------------------------------------


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


async def claim_due(
    session: AsyncSession,
    *,
    now: datetime,
    worker_id: str,
    limit: int,
    platform: str | None = None,
) -> list[OutboxMessage]:
    """Take up to `limit` PENDING rows due at `now`, oldest first, for `worker_id`.

    They become SENDING with claimed_at/claimed_by set and attempts + 1; the chat account
    (and its person) come loaded for rendering. Commit before sending anything.
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
    if _is_postgres(session):
        # Lock only outbox rows; rows another worker holds are skipped, not waited for.
        statement = statement.with_for_update(skip_locked=True, of=OutboxMessage)
    rows = list((await session.scalars(statement)).all())
    for row in rows:
        row.status = OutboxStatus.SENDING
        row.claimed_at = now
        row.claimed_by = worker_id
        row.attempts += 1
    await session.flush()
    return rows


def _claimed(message_id: int) -> Any:
    # Only a row still SENDING is marked: if recovery already wrote it off, that verdict
    # stands (mark_sent alone may correct it, see there).
    return update(OutboxMessage).where(
        OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING
    )


async def _apply(session: AsyncSession, statement: Any) -> bool:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


async def mark_sent(
    session: AsyncSession, message_id: int, *, now: datetime, platform_message_id: str | None
) -> bool:
    """SENT, with the platform's message id. A row that recovery wrote off as INTERRUPTED
    while a slow worker still held it is corrected too: it did go out. False if the row
    was in neither state."""
    interrupted = (OutboxMessage.status == OutboxStatus.FAILED) & (
        OutboxMessage.last_error == INTERRUPTED
    )
    statement = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            (OutboxMessage.status == OutboxStatus.SENDING) | interrupted,
        )
        .values(
            status=OutboxStatus.SENT,
            sent_at=now,
            platform_message_id=platform_message_id,
            last_error=None,
        )
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
    """Back to PENDING, due again at `not_before`. `refund_attempt` undoes the claim's
    attempts + 1 when the message itself was not at fault (rate limit, our own pacing)."""
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
    return await _apply(session, _claimed(message_id).values(**values))


async def mark_failed(session: AsyncSession, message_id: int, *, error: str) -> bool:
    """FAILED for good: the platform refused the message, or retries ran out."""
    return await _apply(
        session,
        _claimed(message_id).values(status=OutboxStatus.FAILED, last_error=error[:_ERROR_LENGTH]),
    )


async def mark_unreachable(
    session: AsyncSession, message_id: int, *, now: datetime, reason: str
) -> bool:
    """UNREACHABLE, and the chat account remembers it (blocked the bot, chat gone)."""
    account_id = await session.scalar(
        select(OutboxMessage.chat_account_id).where(OutboxMessage.id == message_id)
    )
    marked = await _apply(
        session,
        _claimed(message_id).values(
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
    return marked


async def recover_stale_claims(
    session: AsyncSession, *, now: datetime, older_than: timedelta
) -> Sequence[int]:
    """Rows left SENDING for longer than `older_than` (a worker died mid-delivery) become
    FAILED with `INTERRUPTED`; they are never sent again. Returns their ids.

    `older_than` must exceed the longest a live worker holds a claim (its send timeout
    plus pacing), or a slow but alive worker's message would be written off.
    """
    stale = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.claimed_at < now - older_than,
        )
        .order_by(OutboxMessage.id)
    )
    if _is_postgres(session):
        stale = stale.with_for_update(skip_locked=True)
    ids = list((await session.scalars(stale)).all())
    if ids:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status=OutboxStatus.FAILED, last_error=INTERRUPTED)
            .execution_options(synchronize_session=False)
        )
    return ids
