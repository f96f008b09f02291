"""The transactional outbox: what the bot says on its own is written here, in the same
transaction as the fact that caused it, and delivered later by schedules/delivery.py.

`dedupe_key` is unique, so planning the same message twice inserts it once.

A row's way through delivery, each step committed before the next:

    PENDING --claim_due--> CLAIMED --mark_sending--> SENDING --mark_sent--> SENT
                                                     SENDING --> PENDING (retry), FAILED,
                                                                 UNREACHABLE

A worker claims only what it is about to send. It marks a row SENDING just before that
row's request goes out, so after a crash the two states mean different things:
`recover_claims` puts CLAIMED rows back to PENDING (nothing was sent: they go out again),
and writes SENDING rows off as IN_DOUBT (the request may have reached the platform, and
sending again could repeat an official notice). In doubt are therefore at most the requests
that were in flight. An admin sees them in `notice list` and may `notice resend` them.

A row for a chat marked unreachable (the person blocked the bot) is not sent: the claim
marks it UNREACHABLE at once. The mark is lifted when the person writes again
(people.settle_account).

Concurrency: on PostgreSQL `claim_due` locks rows with SELECT ... FOR UPDATE SKIP LOCKED,
so several workers (processes, hosts) never claim the same row. On SQLite it is a plain
select followed by an update: exactly ONE process may run the delivery worker there.

The claim and the marks are in storage/services/outbox_delivery.py. The functions flush but
never commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import dialect_name
from storage.db.models import OutboxMessage, OutboxStatus
from storage.services.account_links import canonical_accounts

# A button in an outbox message: the label is a catalog key, rendered at delivery time.
BUTTONS_PARAM = "_buttons"  # params[BUTTONS_PARAM] = [[{"label": key, "token": token}], ...]
# A document sent with the message: params[DOCUMENT_PARAM] = {"path": str, "name": str}.
# When a timed message (reminder, summary, scheduled notice) was due, ISO 8601: after a
# demo clock jump or downtime it is sent later, and the web chat shows it at this time.
DUE_PARAM = "_due"
DOCUMENT_PARAM = "_document"


def button(label_key: str, token: str) -> dict[str, str]:
    return {"label": label_key, "token": token}


async def enqueue_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows, silently skipping those whose dedupe_key already exists.

    Each row needs: dedupe_key, kind, chat_account_id, template, not_before, created_at;
    optional: campaign_id, notice_id, person_id, params.
    """
    if not rows:
        return
    rows = await _one_per_person(session, rows)
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


async def _one_per_person(
    session: AsyncSession, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Rows planned for each account of a person with linked accounts (/link) become one:
    under their first account and its key (keys end in ":<account id>"); the worker sends
    it to the account they used last (account_links)."""
    canonical = await canonical_accounts(session)
    if not canonical:
        return rows
    kept: dict[str, dict[str, Any]] = {}
    for row in rows:
        account = row["chat_account_id"]
        first = canonical.get(account)
        suffix = f":{account}"
        if first is not None and first != account and row["dedupe_key"].endswith(suffix):
            key = row["dedupe_key"][: -len(suffix)] + f":{first}"
            row = {**row, "dedupe_key": key, "chat_account_id": first}
        kept.setdefault(row["dedupe_key"], row)
    return list(kept.values())


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
