"""Delivery figures for the desk console's admin pages: one notice's outcomes per channel,
the outbox backlog and recent failures, and when reminders were last planned.

The per-notice totals are storage/services/notices.py's `notice_report`; this adds the
split by channel (telegram, zalo) that the console shows beside them. Read-only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import ChatAccount, OutboxMessage, OutboxStatus, ScheduleMark
from storage.services.notices import PENDING_STATES

FAILURE_WINDOW = timedelta(hours=24)
REMINDER_MARKS = "reminders:"  # schedules/reminders.py keys its marks reminders:<campaign>


@dataclass(frozen=True)
class ChannelCounts:
    """One notice's messages on one channel, by outcome (as in NoticeReport)."""

    channel: str
    sent: int
    pending: int
    failed: int
    unreachable: int
    in_doubt: int

    @property
    def total(self) -> int:
        return self.sent + self.pending + self.failed + self.unreachable + self.in_doubt


def _counts(channel: str, count: Counter[str]) -> ChannelCounts:
    return ChannelCounts(
        channel=channel,
        sent=count[OutboxStatus.SENT],
        pending=sum(count[s] for s in PENDING_STATES),
        failed=count[OutboxStatus.FAILED],
        unreachable=count[OutboxStatus.UNREACHABLE],
        in_doubt=count[OutboxStatus.IN_DOUBT],
    )


async def notice_by_channel(session: AsyncSession, notice_id: int) -> list[ChannelCounts]:
    """The notice's outbox rows per channel of the recipient's chat account, by name."""
    rows = await session.execute(
        select(ChatAccount.platform, OutboxMessage.status, func.count())
        .join(ChatAccount, ChatAccount.id == OutboxMessage.chat_account_id)
        .where(OutboxMessage.notice_id == notice_id)
        .group_by(ChatAccount.platform, OutboxMessage.status)
    )
    by_channel: dict[str, Counter[str]] = {}
    for platform, status, count in rows:
        by_channel.setdefault(platform, Counter())[status] = int(count)
    return [_counts(channel, by_channel[channel]) for channel in sorted(by_channel)]


@dataclass(frozen=True)
class Backlog:
    """The outbox now: rows waiting (pending), taken by a worker (claimed), being sent
    (sending), in doubt after a crash; and rows that failed in the last 24 hours."""

    pending: int
    claimed: int
    sending: int
    in_doubt: int
    failed_recently: int


async def outbox_backlog(session: AsyncSession, *, now: datetime) -> Backlog:
    counted = (
        OutboxStatus.PENDING,
        OutboxStatus.CLAIMED,
        OutboxStatus.SENDING,
        OutboxStatus.IN_DOUBT,
    )
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_([s.value for s in counted]))
        .group_by(OutboxMessage.status)
    )
    count = Counter({status: int(n) for status, n in rows})
    since = now - FAILURE_WINDOW
    # A failed row keeps the time its last attempt was claimed; one never tried, its creation.
    failed = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.FAILED,
            or_(
                OutboxMessage.claimed_at >= since,
                and_(OutboxMessage.claimed_at.is_(None), OutboxMessage.created_at >= since),
            ),
        )
    )
    return Backlog(
        pending=count[OutboxStatus.PENDING],
        claimed=count[OutboxStatus.CLAIMED],
        sending=count[OutboxStatus.SENDING],
        in_doubt=count[OutboxStatus.IN_DOUBT],
        failed_recently=int(failed or 0),
    )


async def last_reminder_pass(session: AsyncSession) -> datetime | None:
    """When the reminder planner last ran over any campaign (None: never)."""
    result: datetime | None = await session.scalar(
        select(func.max(ScheduleMark.updated_at)).where(ScheduleMark.key.startswith(REMINDER_MARKS))
    )
    return result
