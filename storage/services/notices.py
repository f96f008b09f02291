"""Notices (thông báo): a text, maybe a document, sent to an audience of a campaign, now or
at a set time.

A notice is stored first (`create_notice`); `dispatch_notice` writes one outbox row per
recipient chat account in the caller's transaction and marks the notice dispatched: for a
notice due now right away (the /broadcast handler, `cchc-bot notice send`), for a later one
when the scheduler finds it due (schedules/notices.py). The dedupe key
`notice:<notice>:<account>` makes a second dispatch of the same notice harmless.

The audience is resolved at dispatch time, not when the notice is stored: a notice to the
"pending" units scheduled for Friday goes to the units still pending on Friday.

Audiences (`parse_audience`):
    all          every linked contact of every unit of the campaign
    team:<TEAM>  the contacts of the units of one team
    unit:<UNIT>  the contacts of one unit
    pending      the contacts of units that have not submitted (returned ones included)
    overdue      pending, and past the unit's own deadline at dispatch time
    leaders      the leaders and members of every team
Only active memberships count (a revoked one never receives anything).

Unlike repeated reminders, a notice also goes to accounts already marked unreachable: it is
an official message sent once, and its report should say who could not get it.

Functions flush at most and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Assignment,
    Campaign,
    ChatAccount,
    Membership,
    Notice,
    OutboxMessage,
    OutboxStatus,
    Role,
    Submission,
    SubmissionStatus,
    Team,
    Unit,
)
from storage.services import audit
from storage.services.evidence import check_file, extension, is_allowed, safe_name
from storage.services.outbox import DOCUMENT_PARAM, DUE_PARAM, enqueue_many
from storage.services.outbox_delivery import resend_in_doubt

TEMPLATE = "notices.notice"
# The rendered notice (title line + text) must fit one Telegram message (4096 characters).
MAX_TEXT_LENGTH = 3500
# Bots may upload documents up to 50 MB to Telegram.
MAX_FILE_BYTES = 50 * 1024 * 1024
EXCERPT_LENGTH = 60
NOTICES_FOLDER = "notices"  # under EVIDENCE_DIR

_DONE = (SubmissionStatus.SUBMITTED.value, SubmissionStatus.ACCEPTED.value)


class NoticeError(ValueError):
    """A notice that cannot be stored; `key` is a catalog key, `params` its placeholders."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class AudienceKind(StrEnum):
    ALL = "all"
    TEAM = "team"
    UNIT = "unit"
    PENDING = "pending"
    OVERDUE = "overdue"
    LEADERS = "leaders"


_NEEDS_CODE = (AudienceKind.TEAM, AudienceKind.UNIT)
AUDIENCES = "all | team:<TEAM> | unit:<UNIT> | pending | overdue | leaders"


@dataclass(frozen=True)
class Audience:
    kind: AudienceKind
    code: str | None = None  # the team or unit code, for team: and unit:

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.code}" if self.code else self.kind.value


def parse_audience(text: str) -> Audience:
    """ "team:D1" -> Audience(TEAM, "D1"). Kinds are case-insensitive; codes are kept as
    typed (they are matched case-insensitively). Raises NoticeError for anything else."""
    kind_text, colon, code = text.strip().partition(":")
    try:
        kind = AudienceKind(kind_text.strip().lower())
    except ValueError:
        raise NoticeError(
            "notices.error.bad_audience", audience=text, audiences=AUDIENCES
        ) from None
    code = code.strip()
    if (kind in _NEEDS_CODE) != bool(code) or (colon and kind not in _NEEDS_CODE):
        raise NoticeError("notices.error.bad_audience", audience=text, audiences=AUDIENCES)
    return Audience(kind, code or None)


# -- storing -------------------------------------------------------------------------------


def store_notice_file(evidence_dir: Path, source: Path, file_name: str | None = None) -> Path:
    """Copy a file to attach under EVIDENCE_DIR/notices/<sha256 prefix>/<name>; returns the
    absolute path. `file_name` is the name it goes out under (the sender's; the source's
    own by default), made safe by the evidence store's `safe_name`. The copy outlives the
    original, which the admin may move or delete before the notice goes out; the same
    content is stored once. Refuses what the evidence store refuses: other types, empty
    files, and bytes that do not match the name's type."""
    name = safe_name(file_name if file_name is not None else source.name)
    if not is_allowed(name):
        raise NoticeError("notices.error.file_type", file=name)
    if source.stat().st_size > MAX_FILE_BYTES:
        raise NoticeError(
            "notices.error.file_too_big", file=name, max_mb=MAX_FILE_BYTES // (1024 * 1024)
        )
    problem = check_file(source, name)
    if problem is not None:
        raise NoticeError(f"notices.error.file_{problem.value}", file=name, ext=extension(name))
    with source.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    target = (evidence_dir / NOTICES_FOLDER / digest[:16] / name).resolve()
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy beside the target, then rename: a half-copied file is never sent.
        temp = target.parent / f".{uuid.uuid4().hex}.part"
        shutil.copyfile(source, temp)
        os.replace(temp, target)
    return target


async def _check_target(session: AsyncSession, campaign_id: int, audience: Audience) -> Audience:
    """A team or unit audience must name one of the campaign's teams or units; returns the
    audience with the code as the campaign spells it."""
    if audience.kind == AudienceKind.TEAM:
        assert audience.code is not None
        code = await session.scalar(
            select(Team.code).where(
                Team.campaign_id == campaign_id, func.lower(Team.code) == audience.code.lower()
            )
        )
        if code is None:
            raise NoticeError("notices.error.unknown_team", team=audience.code)
        return Audience(audience.kind, code)
    if audience.kind == AudienceKind.UNIT:
        assert audience.code is not None
        code = await session.scalar(
            select(Unit.code)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(
                Assignment.campaign_id == campaign_id,
                func.lower(Unit.code) == audience.code.lower(),
            )
        )
        if code is None:
            raise NoticeError("notices.error.unknown_unit", unit=audience.code)
        return Audience(audience.kind, code)
    return audience


async def create_notice(
    session: AsyncSession,
    campaign: Campaign,
    *,
    audience: str | Audience,
    text: str,
    send_at: datetime,
    now: datetime,
    created_by: int | None = None,
    file_path: str | None = None,
    actor_label: str = "",
) -> Notice:
    """Store a notice (validated) and audit it. A `send_at` in the past means now.

    `file_path` is the absolute path of a file already stored (see `store_notice_file`).
    """
    if send_at.tzinfo is None:
        raise ValueError("send_at must be timezone-aware")
    target = await _check_target(
        session,
        campaign.id,
        audience if isinstance(audience, Audience) else parse_audience(audience),
    )
    body = text.strip()
    if not body:
        raise NoticeError("notices.error.empty_text")
    if len(body) > MAX_TEXT_LENGTH:
        raise NoticeError("notices.error.text_too_long", length=len(body), max=MAX_TEXT_LENGTH)
    if file_path is not None and not await asyncio.to_thread(Path(file_path).is_file):
        raise NoticeError("notices.error.missing_file", file=file_path)
    notice = Notice(
        campaign_id=campaign.id,
        audience=str(target),
        text=body,
        file_path=file_path,
        send_at=max(send_at, now),
        created_by=created_by,
        created_at=now,
    )
    session.add(notice)
    await session.flush()
    await audit.record(
        session,
        now=now,
        action="notice.create",
        campaign_id=campaign.id,
        actor_id=created_by,
        actor_label=actor_label,
        subject=f"notice:{notice.id}",
        details={
            "audience": notice.audience,
            "send_at": notice.send_at.isoformat(),
            "file": Path(file_path).name if file_path else None,
        },
    )
    return notice


# -- who receives it ---------------------------------------------------------------------


async def resolve_audience(
    session: AsyncSession, campaign_id: int, audience: str | Audience, now: datetime
) -> list[ChatAccount]:
    """The chat accounts a notice to `audience` reaches at `now`, each once, by id.

    An unknown team or unit simply reaches nobody (create_notice refuses those)."""
    target = audience if isinstance(audience, Audience) else parse_audience(audience)
    if target.kind == AudienceKind.LEADERS:
        accounts = await _team_people(session, campaign_id)
    else:
        accounts = await _unit_contacts(session, campaign_id, target, now)
    unique = {account.id: account for account in accounts}
    return [unique[key] for key in sorted(unique)]


async def _team_people(session: AsyncSession, campaign_id: int) -> list[ChatAccount]:
    return list(
        await session.scalars(
            select(ChatAccount)
            .join(Membership, Membership.person_id == ChatAccount.person_id)
            .where(
                Membership.campaign_id == campaign_id,
                Membership.role.in_([Role.TEAM_LEADER.value, Role.TEAM_MEMBER.value]),
                Membership.revoked_at.is_(None),
            )
        )
    )


async def _unit_contacts(
    session: AsyncSession, campaign_id: int, audience: Audience, now: datetime
) -> list[ChatAccount]:
    query = (
        select(ChatAccount, Submission.status, Assignment.deadline, Campaign.deadline)
        .join(Membership, Membership.person_id == ChatAccount.person_id)
        .join(Assignment, Assignment.id == Membership.assignment_id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .join(Campaign, Campaign.id == Assignment.campaign_id)
        .where(
            Membership.campaign_id == campaign_id,
            Membership.role == Role.UNIT_CONTACT.value,
            Membership.revoked_at.is_(None),
        )
    )
    if audience.kind == AudienceKind.TEAM and audience.code:
        query = query.join(Team, Team.id == Assignment.team_id).where(
            func.lower(Team.code) == audience.code.lower()
        )
    elif audience.kind == AudienceKind.UNIT and audience.code:
        query = query.join(Unit, Unit.id == Assignment.unit_id).where(
            func.lower(Unit.code) == audience.code.lower()
        )
    found = []
    # Status and deadline are filtered here rather than in SQL: the deadline falls back to
    # the campaign's, and comparing that coalesce with `now` is not portable to SQLite's
    # text datetimes.
    for account, status, unit_deadline, campaign_deadline in await session.execute(query):
        pending = status not in _DONE
        if audience.kind == AudienceKind.PENDING and not pending:
            continue
        if audience.kind == AudienceKind.OVERDUE and not (
            pending and now > (unit_deadline or campaign_deadline)
        ):
            continue
        found.append(account)
    return found


# -- dispatching -------------------------------------------------------------------------


def _document(notice: Notice) -> dict[str, str] | None:
    if not notice.file_path:
        return None
    return {"path": notice.file_path, "name": Path(notice.file_path).name}


async def dispatch_notice(session: AsyncSession, notice: Notice, now: datetime) -> int:
    """Write the notice's outbox rows (one per recipient account) and mark it dispatched;
    returns the number of recipients."""
    campaign = await session.get(Campaign, notice.campaign_id)
    assert campaign is not None  # notices cascade with their campaign
    accounts = await resolve_audience(session, campaign.id, notice.audience, now)
    params: dict[str, Any] = {"campaign": campaign.title, "text": notice.text}
    document = _document(notice)
    if document is not None:
        params[DOCUMENT_PARAM] = document
    await enqueue_many(
        session,
        [
            {
                "dedupe_key": f"notice:{notice.id}:{account.id}",
                "kind": "notice",
                "chat_account_id": account.id,
                "person_id": account.person_id,
                "campaign_id": campaign.id,
                "notice_id": notice.id,
                "template": TEMPLATE,
                # As it fell due: a scheduled notice after a clock jump or downtime.
                "params": {**params, DUE_PARAM: min(notice.send_at, now).isoformat()},
                "not_before": min(notice.send_at, now),
                "created_at": now,
            }
            for account in accounts
        ],
    )
    notice.dispatched_at = now
    await audit.record(
        session,
        now=now,
        action="notice.dispatch",
        campaign_id=campaign.id,
        actor_label="scheduler",
        subject=f"notice:{notice.id}",
        details={"recipients": len(accounts)},
    )
    return len(accounts)


# -- reporting -----------------------------------------------------------------------------


PENDING_STATES = (OutboxStatus.PENDING, OutboxStatus.CLAIMED, OutboxStatus.SENDING)


class NoticeState(StrEnum):
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class NoticeReport:
    id: int
    audience: str
    send_at: datetime
    excerpt: str
    file_name: str | None
    state: NoticeState
    dispatched_at: datetime | None
    recipients: int  # outbox rows written (0 until dispatched)
    sent: int
    pending: int  # waiting or being sent
    failed: int
    unreachable: int  # the chat could not be reached, now or earlier (then not tried)
    in_doubt: int  # a crash came while being sent: may or may not have arrived
    # Sent messages by the channel they went through ("telegram", "zalo"): a person on
    # several channels gets each on the one they used last, or the other (/link).
    sent_by_channel: dict[str, int] = field(default_factory=dict)


async def notice_by_id(session: AsyncSession, notice_id: int) -> Notice | None:
    return await session.get(Notice, notice_id)


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    """One line of at most `length` characters, "…" when cut."""
    line = " ".join(text.split())
    return line if len(line) <= length else line[: length - 1].rstrip() + "…"


def _state(notice: Notice) -> NoticeState:
    if notice.cancelled_at is not None:
        return NoticeState.CANCELLED
    return NoticeState.SCHEDULED if notice.dispatched_at is None else NoticeState.DISPATCHED


async def notice_report(session: AsyncSession, campaign_id: int) -> list[NoticeReport]:
    """Every notice of the campaign by send time, with its delivery counts."""
    notices = list(
        await session.scalars(
            select(Notice)
            .where(Notice.campaign_id == campaign_id)
            .order_by(Notice.send_at, Notice.id)
        )
    )
    counts: dict[int, Counter[str]] = {n.id: Counter() for n in notices}
    if notices:
        rows = await session.execute(
            select(OutboxMessage.notice_id, OutboxMessage.status, func.count())
            .where(OutboxMessage.notice_id.in_(list(counts)))
            .group_by(OutboxMessage.notice_id, OutboxMessage.status)
        )
        for notice_id, status, count in rows:
            if notice_id is not None:
                counts[notice_id][status] = count
    channels: dict[int, dict[str, int]] = {n.id: {} for n in notices}
    if notices:
        sent = await session.execute(
            select(OutboxMessage.notice_id, ChatAccount.platform, func.count())
            .join(ChatAccount, ChatAccount.id == OutboxMessage.chat_account_id)
            .where(
                OutboxMessage.notice_id.in_(list(counts)),
                OutboxMessage.status == OutboxStatus.SENT,
            )
            .group_by(OutboxMessage.notice_id, ChatAccount.platform)
            .order_by(ChatAccount.platform)
        )
        for notice_id, platform, count in sent:
            if notice_id is not None:
                channels[notice_id][platform] = count
    return [_report(n, counts[n.id], channels[n.id]) for n in notices]


def _report(notice: Notice, count: Counter[str], channels: dict[str, int]) -> NoticeReport:
    return NoticeReport(
        id=notice.id,
        audience=notice.audience,
        send_at=notice.send_at,
        excerpt=excerpt(notice.text),
        file_name=Path(notice.file_path).name if notice.file_path else None,
        state=_state(notice),
        dispatched_at=notice.dispatched_at,
        recipients=sum(count.values()),
        sent=count[OutboxStatus.SENT],
        pending=sum(count[s] for s in PENDING_STATES),
        failed=count[OutboxStatus.FAILED],
        unreachable=count[OutboxStatus.UNREACHABLE],
        in_doubt=count[OutboxStatus.IN_DOUBT],
        sent_by_channel=channels,
    )


async def resend_notice(
    session: AsyncSession,
    notice: Notice,
    now: datetime,
    *,
    actor_id: int | None = None,
    actor_label: str = "",
) -> int:
    """Send the notice's messages in doubt again (an admin's decision: some may arrive
    twice), audited; how many were put back."""
    count = await resend_in_doubt(session, now=now, notice_id=notice.id)
    if count:
        await audit.record(
            session,
            now=now,
            action="notice.resend",
            campaign_id=notice.campaign_id,
            actor_id=actor_id,
            actor_label=actor_label,
            subject=f"notice:{notice.id}",
            details={"in_doubt": count},
        )
    return count
