"""Which items a report still lacks, by code and short title, for reminders that say
exactly what to do: required items not answered yet, and answered items whose required
evidence is neither attached nor explained (the rule of rules/progress.py).

Read only for the reports a reminder goes to now, a few hundred ids per statement (an IN
list stays far below PostgreSQL's parameter limit).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Answer, EvidenceFile, Item

CHUNK = 500
TITLE_CHARS = 48  # a short title fits one line of a phone screen


@dataclass(frozen=True)
class GapItem:
    item_id: int
    code: str
    title: str
    position: int = 0


@dataclass
class ReportGaps:
    unanswered: list[GapItem] = field(default_factory=list)  # required, in checklist order
    lacking: list[GapItem] = field(default_factory=list)  # answered, evidence missing

    @property
    def first(self) -> GapItem | None:
        """Where to jump: the first item of either kind, in checklist order."""
        return min(self.unanswered[:1] + self.lacking[:1], key=lambda g: g.position, default=None)


def short_title(text: str, limit: int = TITLE_CHARS) -> str:
    """The item's text cut at a word boundary, with "…" when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


async def report_gaps(
    session: AsyncSession, campaign_id: int, submission_ids: Iterable[int]
) -> dict[int, ReportGaps]:
    items = list(
        await session.scalars(
            select(Item).where(Item.campaign_id == campaign_id).order_by(Item.position)
        )
    )
    ids = sorted(set(submission_ids))
    answered: defaultdict[int, set[int]] = defaultdict(set)
    lacking: defaultdict[int, set[int]] = defaultdict(set)
    for start in range(0, len(ids), CHUNK):
        await _read_chunk(session, ids[start : start + CHUNK], answered, lacking)
    gaps = {}
    for submission_id in ids:
        done, short = answered[submission_id], lacking[submission_id]
        gaps[submission_id] = ReportGaps(
            unanswered=[_gap(i) for i in items if i.required and i.id not in done],
            lacking=[_gap(i) for i in items if i.id in short],
        )
    return gaps


def _gap(item: Item) -> GapItem:
    return GapItem(item.id, item.code, short_title(item.text), item.position)


async def _read_chunk(
    session: AsyncSession,
    ids: list[int],
    answered: defaultdict[int, set[int]],
    lacking: defaultdict[int, set[int]],
) -> None:
    has_file = exists().where(
        and_(
            EvidenceFile.submission_id == Answer.submission_id,
            EvidenceFile.item_id == Answer.item_id,
            EvidenceFile.removed_at.is_(None),
        )
    )
    without = and_(Item.evidence == "required", Answer.note.is_(None), ~has_file)
    rows = await session.execute(
        select(Answer.submission_id, Answer.item_id, without)
        .join(Item, Item.id == Answer.item_id)
        .where(Answer.submission_id.in_(ids), Answer.value.is_not(None))
    )
    for submission_id, item_id, short in rows:
        answered[submission_id].add(item_id)
        if short:
            lacking[submission_id].add(item_id)


GAPS_PARAM = "_gaps"  # reserved outbox param (bot/outbox_render.py renders it)
LISTED = 10  # items listed per kind; the rest as "… and N more"


def gaps_param(gaps: ReportGaps) -> dict[str, object]:
    """The gaps as an outbox param: plain data, rendered in the reader's language later."""

    def listed(found: list[GapItem]) -> dict[str, object]:
        return {"items": [[g.code, g.title] for g in found[:LISTED]], "more": len(found) - LISTED}

    return {"unanswered": listed(gaps.unanswered), "lacking": listed(gaps.lacking)}
