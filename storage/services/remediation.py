"""Remediation (khắc phục): the shortcomings of an issued conclusion as the unit's tasks.

    OPEN --unit marks done--> REPORTED --team accepts--> FIXED
                              REPORTED --team reopens (comment)--> OPEN

The unit reports what it did (text, evidence files); marking a task done tells the team's
leaders, and the team's answer goes back to the unit's contacts, all through the outbox.
Services: the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_date
from storage.db.models import (
    Assignment,
    Conclusion,
    FixStatus,
    Shortcoming,
    ShortcomingFile,
)
from storage.rules.remediation import remediation_rate
from storage.services import audit
from storage.services.evidence import StoredFile
from storage.services.outbox import button, enqueue_many
from storage.services.recipients import team_leaders, unit_contacts

REPORT_LIMIT = 2000


class FixRefusal(StrEnum):
    NOT_OPEN = "not_open"  # reported or fixed already: nothing to report
    NOT_REPORTED = "not_reported"  # the team can only review what the unit reported
    NO_REPORT = "no_report"  # marking done needs what was done


class FixError(Exception):
    def __init__(self, reason: FixRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Task:
    shortcoming: Shortcoming
    assignment: Assignment
    files: int


async def tasks_of(session: AsyncSession, assignment_id: int) -> list[Shortcoming]:
    """The unit's remediation tasks: the shortcomings of its issued conclusion."""
    return list(
        await session.scalars(
            select(Shortcoming)
            .join(Conclusion, Conclusion.id == Shortcoming.conclusion_id)
            .where(Conclusion.assignment_id == assignment_id, Conclusion.issued_at.is_not(None))
            .order_by(Shortcoming.position)
        )
    )


async def task_by_id(session: AsyncSession, shortcoming_id: int) -> Task | None:
    """A task with its unit; None when unknown or its conclusion is not issued yet."""
    row = (
        await session.execute(
            select(Shortcoming, Conclusion.assignment_id)
            .join(Conclusion, Conclusion.id == Shortcoming.conclusion_id)
            .where(Shortcoming.id == shortcoming_id, Conclusion.issued_at.is_not(None))
        )
    ).first()
    if row is None:
        return None
    assignment = await session.get(Assignment, row[1])
    assert assignment is not None
    files = await session.scalar(
        select(func.count())
        .select_from(ShortcomingFile)
        .where(ShortcomingFile.shortcoming_id == shortcoming_id)
    )
    return Task(row[0], assignment, int(files or 0))


def _require_open(shortcoming: Shortcoming) -> None:
    if shortcoming.status != FixStatus.OPEN:
        raise FixError(FixRefusal.NOT_OPEN)


async def save_report(
    session: AsyncSession, shortcoming: Shortcoming, text: str, *, person_id: int, now: datetime
) -> None:
    _require_open(shortcoming)
    shortcoming.report = text[:REPORT_LIMIT]
    shortcoming.reported_by, shortcoming.reported_at = person_id, now


async def add_file(
    session: AsyncSession,
    shortcoming: Shortcoming,
    stored: StoredFile,
    *,
    mime_type: str,
    person_id: int,
    now: datetime,
) -> bool:
    """Keep one evidence file of the fix; False when the same content is there already."""
    _require_open(shortcoming)
    same = await session.scalar(
        select(ShortcomingFile.id).where(
            ShortcomingFile.shortcoming_id == shortcoming.id,
            ShortcomingFile.sha256 == stored.sha256,
        )
    )
    if same is not None:
        return False
    session.add(
        ShortcomingFile(
            shortcoming_id=shortcoming.id,
            file_name=stored.file_name,
            size=stored.size,
            mime_type=mime_type,
            sha256=stored.sha256,
            storage_path=stored.relative_path,
            uploaded_by=person_id,
            uploaded_at=now,
        )
    )
    await session.flush()
    return True


async def files_of(session: AsyncSession, shortcoming_id: int) -> list[ShortcomingFile]:
    return list(
        await session.scalars(
            select(ShortcomingFile)
            .where(ShortcomingFile.shortcoming_id == shortcoming_id)
            .order_by(ShortcomingFile.id)
        )
    )


def _task_params(task: Task) -> dict[str, object]:
    s, a = task.shortcoming, task.assignment
    return {
        "unit": a.unit.name,
        "campaign": a.campaign.title,
        "number": s.position,
        "text": s.text,
        "due": fmt_date(s.due_on),
    }


async def mark_done(session: AsyncSession, task: Task, *, person_id: int, now: datetime) -> int:
    """The unit says the fix is done: the team's leaders are asked to look at it."""
    s = task.shortcoming
    _require_open(s)
    if not s.report:
        raise FixError(FixRefusal.NO_REPORT)
    s.status = FixStatus.REPORTED
    s.reported_by, s.reported_at = person_id, now
    rows = [
        _row(
            task,
            to.account_id,
            to.person_id,
            now,
            key=f"fixrep:{s.id}:{s.round}:{to.account_id}",
            template="remediation.reported_notice",
            params={
                **_task_params(task),
                "report": s.report or "",
                "files": task.files,
                "_buttons": [[button("remediation.review_button", f"kv:{s.id}")]],
            },
        )
        for to in await team_leaders(session, task.assignment.team_id)
    ]
    await enqueue_many(session, rows)
    await _audit(session, task, "remediation.report", person_id, now)
    return len(rows)


async def review_fix(
    session: AsyncSession,
    task: Task,
    *,
    accept: bool,
    comment: str | None,
    person_id: int,
    now: datetime,
) -> int:
    """The team accepts the fix (FIXED) or reopens it with a comment (OPEN again)."""
    s = task.shortcoming
    if s.status != FixStatus.REPORTED:
        raise FixError(FixRefusal.NOT_REPORTED)
    s.status = FixStatus.FIXED if accept else FixStatus.OPEN
    s.reviewed_by, s.reviewed_at = person_id, now
    s.comment = None if accept else (comment or "")[:REPORT_LIMIT]
    template = "remediation.accepted_notice" if accept else "remediation.reopened_notice"
    review_round = s.round
    if not accept:
        s.round += 1  # a new round of report and review
    rows = [
        _row(
            task,
            to.account_id,
            to.person_id,
            now,
            key=f"fixrev:{s.id}:{review_round}:{to.account_id}",
            template=template,
            params={
                **_task_params(task),
                "comment": s.comment or "",
                "_buttons": [[button("conclusion.open_tasks", f"kp:{to.membership_id}")]],
            },
        )
        for to in await unit_contacts(session, task.assignment.id)
    ]
    await enqueue_many(session, rows)
    action = "remediation.accept" if accept else "remediation.reopen"
    await _audit(session, task, action, person_id, now)
    return len(rows)


def _row(
    task: Task,
    account_id: int,
    person_id: int,
    now: datetime,
    *,
    key: str,
    template: str,
    params: dict[str, object],
) -> dict[str, object]:
    return {
        "dedupe_key": key,
        "kind": "remediation",
        "chat_account_id": account_id,
        "person_id": person_id,
        "campaign_id": task.assignment.campaign_id,
        "template": template,
        "params": params,
        "not_before": now,
        "created_at": now,
    }


async def _audit(
    session: AsyncSession, task: Task, action: str, person_id: int, now: datetime
) -> None:
    await audit.record(
        session,
        now=now,
        action=action,
        campaign_id=task.assignment.campaign_id,
        actor_id=person_id,
        subject=task.assignment.unit.code,
        details={"shortcoming": task.shortcoming.id},
    )


# -- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A unit's remediation: "4/6 tồn tại đã khắc phục"."""

    assignment_id: int
    total: int
    fixed: int
    reported: int
    overdue: int

    @property
    def rate(self) -> float | None:
        return remediation_rate(self.fixed, self.total)


async def progress_by_unit(
    session: AsyncSession, campaign_id: int, *, today: date
) -> dict[int, Progress]:
    """Remediation progress of every unit of the campaign with an issued conclusion."""
    rows = await session.execute(
        select(Conclusion.assignment_id, Shortcoming.status, Shortcoming.due_on)
        .join(Shortcoming, Shortcoming.conclusion_id == Conclusion.id)
        .join(Assignment, Assignment.id == Conclusion.assignment_id)
        .where(Assignment.campaign_id == campaign_id, Conclusion.issued_at.is_not(None))
    )
    counts: dict[int, list[int]] = {}
    for assignment_id, status, due_on in rows:
        c = counts.setdefault(assignment_id, [0, 0, 0, 0])
        c[0] += 1
        c[1] += status == FixStatus.FIXED
        c[2] += status == FixStatus.REPORTED
        c[3] += status != FixStatus.FIXED and due_on < today
    return {a: Progress(a, *c) for a, c in counts.items()}
