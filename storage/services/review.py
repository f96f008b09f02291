"""The team's review of a submitted report: ask for more (yêu cầu bổ sung) and return it,
accept it, appraise (thẩm định) its items. Services: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from common.localtime import fmt_datetime
from storage.db.models import (
    Appraisal,
    AppraisalRound,
    Assignment,
    ReviewFlag,
    Submission,
    SubmissionStatus,
)
from storage.rules.progress import item_self_score
from storage.services import audit
from storage.services.checklist import Checklist
from storage.services.outbox import button, enqueue_many
from storage.services.recipients import unit_contacts
from storage.services.self_scores import hand_scores
from storage.services.submissions import answer_states

MAX_FLAGS_LISTED = 30


class ReviewRefusal(StrEnum):
    NOT_SUBMITTED = "not_submitted"  # only a submitted report can be returned or accepted
    NO_FLAGS = "no_flags"  # returning needs at least one item asked for
    BAD_SCORE = "bad_score"
    ROUND_SENT = "round_sent"  # round 1 went to the unit: its scores are fixed


class ReviewError(Exception):
    def __init__(self, reason: ReviewRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def pending_flags(session: AsyncSession, submission_id: int) -> list[ReviewFlag]:
    """Flags written since the report came in, not yet sent back to the unit."""
    return list(
        await session.scalars(
            select(ReviewFlag)
            .where(ReviewFlag.submission_id == submission_id, ReviewFlag.returned_at.is_(None))
            .order_by(ReviewFlag.id)
        )
    )


async def unresolved_flags(session: AsyncSession, submission_id: int) -> list[ReviewFlag]:
    """Flags the unit has not dealt with yet: pending ones and those sent back with the
    report until it is submitted again."""
    return list(
        await session.scalars(
            select(ReviewFlag)
            .where(ReviewFlag.submission_id == submission_id, ReviewFlag.resolved_at.is_(None))
            .order_by(ReviewFlag.id)
        )
    )


async def flag_item(
    session: AsyncSession,
    submission: Submission,
    item_id: int,
    comment: str,
    *,
    person_id: int,
    now: datetime,
) -> ReviewFlag:
    """Ask for more on one item; a second comment on the same item replaces the first."""
    if submission.status != SubmissionStatus.SUBMITTED:
        raise ReviewError(ReviewRefusal.NOT_SUBMITTED)
    await session.execute(
        delete(ReviewFlag).where(
            ReviewFlag.submission_id == submission.id,
            ReviewFlag.item_id == item_id,
            ReviewFlag.returned_at.is_(None),
        )
    )
    flag = ReviewFlag(
        submission_id=submission.id,
        item_id=item_id,
        comment=comment,
        flagged_by=person_id,
        flagged_at=now,
    )
    session.add(flag)
    await session.flush()
    return flag


async def unflag_item(session: AsyncSession, submission: Submission, item_id: int) -> None:
    await session.execute(
        delete(ReviewFlag).where(
            ReviewFlag.submission_id == submission.id,
            ReviewFlag.item_id == item_id,
            ReviewFlag.returned_at.is_(None),
        )
    )


async def _assignment(session: AsyncSession, submission: Submission) -> Assignment:
    assignment = await session.get(Assignment, submission.assignment_id)
    assert assignment is not None  # a submission always belongs to an assignment
    return assignment


async def return_report(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    *,
    person_id: int,
    now: datetime,
) -> list[ReviewFlag]:
    """Send the report back: the flagged items reopen, the rest stay locked, and every
    contact of the unit is told exactly which items and why."""
    if submission.status != SubmissionStatus.SUBMITTED:
        raise ReviewError(ReviewRefusal.NOT_SUBMITTED)
    flags = await pending_flags(session, submission.id)
    if not flags:
        raise ReviewError(ReviewRefusal.NO_FLAGS)
    for flag in flags:
        flag.returned_at = now
    submission.status = SubmissionStatus.RETURNED
    submission.returned_at = now
    submission.updated_at = now
    submission.version += 1
    assignment = await _assignment(session, submission)
    campaign = assignment.campaign
    listing = "\n".join(
        f"• {item.code}: {flag.comment}"
        for flag in flags[:MAX_FLAGS_LISTED]
        if (item := checklist.by_id(flag.item_id))
    )
    params = {
        "unit": assignment.unit.name,
        "campaign": campaign.title,
        "items": listing,
        "count": len(flags),
    }
    await _tell_unit(
        session,
        assignment.id,
        campaign.id,
        "review.returned_notice",
        f"returned:{submission.id}:{submission.version}",
        params,
        now,
    )
    await audit.record(
        session,
        now=now,
        action="submission.return",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"items": [f.item_id for f in flags]},
    )
    return flags


async def _tell_unit(
    session: AsyncSession,
    assignment_id: int,
    campaign_id: int,
    template: str,
    key: str,
    params: Mapping[str, object],
    now: datetime,
) -> None:
    rows = [
        {
            "dedupe_key": f"{key}:{account_id}",
            "kind": "review",
            "chat_account_id": account_id,
            "person_id": person_id,
            "campaign_id": campaign_id,
            "template": template,
            "params": {
                **params,
                "_buttons": [[button("reminders.continue", f"pick:{membership_id}")]],
            },
            "not_before": now,
            "created_at": now,
        }
        for account_id, person_id, membership_id in await unit_contacts(session, assignment_id)
    ]
    await enqueue_many(session, rows)


@dataclass(frozen=True)
class ItemScore:
    item_id: int
    self_score: float
    appraised: float | None
    reason: str | None

    @property
    def final(self) -> float:
        return self.self_score if self.appraised is None else self.appraised


async def item_scores(
    session: AsyncSession, submission: Submission, checklist: Checklist
) -> list[ItemScore]:
    states = await answer_states(session, submission.id)
    hand = await hand_scores(session, submission.id)
    appraisals = {
        a.item_id: a
        for a in await session.scalars(
            select(Appraisal).where(Appraisal.submission_id == submission.id)
        )
    }
    result = []
    for item in checklist.items:
        own = item_self_score(item, states.get(item.id), hand)
        appraisal = appraisals.get(item.id)
        result.append(
            ItemScore(
                item.id,
                own,
                appraisal.score if appraisal else None,
                appraisal.reason if appraisal else None,
            )
        )
    return result


async def appraise_item(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    item_id: int,
    value: float,
    reason: str | None,
    *,
    person_id: int,
    now: datetime,
) -> float:
    """Set the appraised score of one item (0..its points); returns the new total."""
    item = checklist.by_id(item_id)
    if item is None or not 0 <= value <= item.points:
        raise ReviewError(ReviewRefusal.BAD_SCORE)
    sent = await session.scalar(
        select(AppraisalRound.id).where(AppraisalRound.submission_id == submission.id)
    )
    if sent is not None:
        raise ReviewError(ReviewRefusal.ROUND_SENT)
    appraisal = await session.scalar(
        select(Appraisal).where(
            Appraisal.submission_id == submission.id, Appraisal.item_id == item_id
        )
    )
    if appraisal is None:
        appraisal = Appraisal(
            submission_id=submission.id,
            item_id=item_id,
            score=value,
            appraised_by=person_id,
            appraised_at=now,
        )
        session.add(appraisal)
    appraisal.score, appraisal.reason = value, reason
    appraisal.appraised_by, appraisal.appraised_at = person_id, now
    await session.flush()
    total = round(sum(s.final for s in await item_scores(session, submission, checklist)), 4)
    submission.appraised_score = total
    return total


async def accept_report(
    session: AsyncSession,
    submission: Submission,
    checklist: Checklist,
    *,
    person_id: int,
    now: datetime,
) -> float:
    """Accept: the appraised score defaults to the self-score of every item not appraised."""
    if submission.status != SubmissionStatus.SUBMITTED:
        raise ReviewError(ReviewRefusal.NOT_SUBMITTED)
    total = round(sum(s.final for s in await item_scores(session, submission, checklist)), 4)
    submission.status = SubmissionStatus.ACCEPTED
    submission.accepted_at = now
    submission.appraised_score = total
    submission.updated_at = now
    submission.version += 1
    assignment = await _assignment(session, submission)
    campaign = assignment.campaign
    params = {
        "unit": assignment.unit.name,
        "campaign": campaign.title,
        # Floats are numbers: the renderer shows them in the reader's format.
        "score": float(total),
        "max": float(checklist.max_score),
        "time": fmt_datetime(now, campaign.timezone),
    }
    await _tell_unit(
        session,
        assignment.id,
        campaign.id,
        "review.accepted_notice",
        f"accepted:{submission.id}",
        params,
        now,
    )
    await audit.record(
        session,
        now=now,
        action="submission.accept",
        campaign_id=campaign.id,
        actor_id=person_id,
        subject=assignment.unit.code,
        details={"appraised_score": total},
    )
    return total
