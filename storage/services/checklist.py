"""A campaign's checklist as plain, immutable values, cached per campaign version.

Every inbound event needs the items of its campaign; reading 30-100 rows for each press of
a button would dominate the cost of a reply, so the checklist is cached and keyed by the
campaign's `updated_at` (a re-import changes it and so refreshes the cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import Campaign, Item, Section
from storage.formats.campaign_spec import ScoringSettings, scoring_from_dict


@dataclass(frozen=True)
class ItemInfo:
    id: int
    code: str
    index: int  # 0-based position in the whole checklist
    section_id: int
    section_title: str
    text: str
    help: str
    type: str
    options: tuple[str, ...]
    required: bool
    evidence: str
    points: float
    scoring: dict[str, Any] | None
    min: float | None
    max: float | None
    max_length: int | None


@dataclass(frozen=True)
class SectionInfo:
    id: int
    title: str
    first_index: int
    count: int


@dataclass(frozen=True)
class Checklist:
    campaign_id: int
    items: tuple[ItemInfo, ...]
    sections: tuple[SectionInfo, ...]
    scoring: ScoringSettings = field(default_factory=ScoringSettings)  # step, explain days

    def by_id(self, item_id: int) -> ItemInfo | None:
        return next((item for item in self.items if item.id == item_id), None)

    def at(self, index: int) -> ItemInfo | None:
        return self.items[index] if 0 <= index < len(self.items) else None

    @property
    def max_score(self) -> float:
        return sum(item.points for item in self.items)


async def read_checklist(session: AsyncSession, campaign_id: int) -> Checklist:
    rows = await session.execute(
        select(Item, Section.title)
        .join(Section, Section.id == Item.section_id)
        .where(Item.campaign_id == campaign_id)
        .order_by(Item.position)
    )
    items: list[ItemInfo] = []
    sections: list[SectionInfo] = []
    for index, (item, section_title) in enumerate(rows):
        if not sections or sections[-1].id != item.section_id:
            sections.append(SectionInfo(item.section_id, section_title, index, 0))
        last = sections[-1]
        sections[-1] = SectionInfo(last.id, last.title, last.first_index, last.count + 1)
        items.append(
            ItemInfo(
                id=item.id,
                code=item.code,
                index=index,
                section_id=item.section_id,
                section_title=section_title,
                text=item.text,
                help=item.help,
                type=item.type,
                options=tuple(item.options or ()),
                required=item.required,
                evidence=item.evidence,
                points=item.points,
                scoring=item.scoring,
                min=item.min,
                max=item.max,
                max_length=item.max_length,
            )
        )
    policy = await session.scalar(select(Campaign.policy).where(Campaign.id == campaign_id))
    scoring = scoring_from_dict(policy or {})
    return Checklist(campaign_id, tuple(items), tuple(sections), scoring)


class ChecklistCache:
    """Owned by the composition root (not a module global), shared by all events."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[datetime, Checklist]] = {}

    async def get(
        self, session: AsyncSession, campaign_id: int, version: datetime | None = None
    ) -> Checklist:
        """`version` is the campaign's updated_at when the caller has just read it."""
        updated_at = version or await session.scalar(
            select(Campaign.updated_at).where(Campaign.id == campaign_id)
        )
        cached = self._cache.get(campaign_id)
        if cached and cached[0] == updated_at:
            return cached[1]
        checklist = await read_checklist(session, campaign_id)
        if updated_at is not None:
            self._cache[campaign_id] = (updated_at, checklist)
        return checklist
