"""What re-importing a campaign file would change, read before anything is written.

The desk console shows this preview before an admin confirms a re-import: teams, units and
items added, changed (with the fields that differ) or removed, and what a removal takes
with it (answers, linked people). Matching is the importer's (storage/services/
campaign_import.py): items and units by code, teams by code. Read-only: it never writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Answer,
    Assignment,
    Campaign,
    Item,
    Membership,
    Section,
    Submission,
    Team,
    Unit,
)
from storage.formats.campaign_spec import CampaignSpec, ItemSpec, UnitSpec


@dataclass(frozen=True)
class Change:
    """One team, unit or item: `kind` is added, changed or removed; `fields` what differs
    (changed); `answers` and `people` what a removal (or an item's new type) takes along."""

    kind: str
    code: str
    name: str
    fields: tuple[str, ...] = ()
    answers: int = 0
    people: int = 0


@dataclass
class ReimportPreview:
    campaign_id: int
    campaign_fields: list[str] = field(default_factory=list)
    teams: list[Change] = field(default_factory=list)
    units: list[Change] = field(default_factory=list)
    items: list[Change] = field(default_factory=list)

    @property
    def answers_lost(self) -> int:
        return sum(c.answers for c in (*self.units, *self.items))

    @property
    def people_unlinked(self) -> int:
        return sum(c.people for c in (*self.teams, *self.units))

    @property
    def unchanged(self) -> bool:
        return not (self.campaign_fields or self.teams or self.units or self.items)


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(key for key in new if old.get(key) != new[key])


async def reimport_preview(session: AsyncSession, spec: CampaignSpec) -> ReimportPreview | None:
    """None when no campaign has the spec's code (the import creates it)."""
    campaign = await session.scalar(select(Campaign).where(Campaign.code == spec.code))
    if campaign is None:
        return None
    preview = ReimportPreview(campaign.id)
    preview.campaign_fields = list(
        _diff(
            {
                "title": campaign.title,
                "basis": campaign.basis,
                "timezone": campaign.timezone,
                "deadline": campaign.deadline,
            },
            {
                "title": spec.title,
                "basis": spec.basis,
                "timezone": spec.timezone,
                "deadline": spec.deadline,
            },
        )
    )
    preview.teams = await _teams(session, campaign.id, spec)
    preview.units = await _units(session, campaign.id, spec)
    preview.items = await _items(session, campaign.id, spec)
    return preview


async def _teams(session: AsyncSession, campaign_id: int, spec: CampaignSpec) -> list[Change]:
    people = dict(
        (
            await session.execute(
                select(Membership.team_id, func.count())
                .where(
                    Membership.campaign_id == campaign_id,
                    Membership.team_id.is_not(None),
                    Membership.revoked_at.is_(None),
                )
                .group_by(Membership.team_id)
            )
        ).all()
    )
    teams = await session.scalars(select(Team).where(Team.campaign_id == campaign_id))
    existing = {t.code: t for t in teams}
    changes = []
    for team in spec.teams:
        old = existing.pop(team.code, None)
        new = {"name": team.name, "leaders": team.leaders, "members": team.members}
        if old is None:
            changes.append(Change("added", team.code, team.name))
            continue
        fields = _diff(
            {"name": old.name, "leaders": old.leader_slots, "members": old.member_slots}, new
        )
        if fields:
            changes.append(Change("changed", team.code, team.name, fields))
    changes += [
        Change("removed", code, t.name, people=int(people.get(t.id, 0)))
        for code, t in existing.items()
    ]
    return changes


def _unit_values(unit: UnitSpec) -> dict[str, Any]:
    return {
        "name": unit.name,
        "team": unit.team,
        "form": unit.form.value,
        "deadline": unit.deadline,
        "visit": (unit.visit.at, unit.visit.place, unit.visit.announced) if unit.visit else None,
        "contacts": unit.contacts,
    }


async def _units(session: AsyncSession, campaign_id: int, spec: CampaignSpec) -> list[Change]:
    rows = await session.execute(
        select(Assignment, Unit.code, Unit.name, Team.code)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Team, Team.id == Assignment.team_id)
        .where(Assignment.campaign_id == campaign_id)
    )
    existing: dict[str, tuple[int, dict[str, Any]]] = {}
    for assignment, code, name, team_code in rows:
        visit = (
            (assignment.visit_at, assignment.visit_place, assignment.visit_announced)
            if assignment.visit_at is not None
            else None
        )
        existing[code] = (
            assignment.id,
            {
                "name": name,
                "team": team_code,
                "form": assignment.form,
                "deadline": assignment.deadline,
                "visit": visit,
                "contacts": assignment.contact_slots,
            },
        )
    changes = []
    for unit in spec.units:
        found = existing.pop(unit.code, None)
        if found is None:
            changes.append(Change("added", unit.code, unit.name))
        elif fields := _diff(found[1], _unit_values(unit)):
            changes.append(Change("changed", unit.code, unit.name, fields))
    if existing:
        gone = [assignment_id for assignment_id, _ in existing.values()]
        answers = await _count_by(session, Submission.assignment_id, gone, answers=True)
        people = await _count_by(session, Membership.assignment_id, gone, answers=False)
        changes += [
            Change(
                "removed",
                code,
                values["name"],
                answers=answers.get(assignment_id, 0),
                people=people.get(assignment_id, 0),
            )
            for code, (assignment_id, values) in existing.items()
        ]
    return changes


async def _count_by(
    session: AsyncSession, column: Any, assignment_ids: list[int], *, answers: bool
) -> dict[int, int]:
    """Answers given (answers=True) or active memberships, per assignment."""
    if answers:
        query = (
            select(column, func.count(Answer.id))
            .join(Answer, Answer.submission_id == Submission.id)
            .where(column.in_(assignment_ids), Answer.value.is_not(None))
        )
    else:
        query = select(column, func.count()).where(
            column.in_(assignment_ids), Membership.revoked_at.is_(None)
        )
    rows = await session.execute(query.group_by(column))
    return {key: int(count) for key, count in rows}


def _item_values(item: ItemSpec, section: str) -> dict[str, Any]:
    return {
        "section": section,
        "text": item.text,
        "help": item.help,
        "type": item.type.value,
        "options": list(item.options),
        "required": item.required,
        "evidence": item.evidence.value,
        "points": item.points,
        "scoring": item.scoring,
        "min": item.min,
        "max": item.max,
        "max_length": item.max_length,
    }


async def _items(session: AsyncSession, campaign_id: int, spec: CampaignSpec) -> list[Change]:
    rows = await session.execute(
        select(Item, Section.title)
        .join(Section, Section.id == Item.section_id)
        .where(Item.campaign_id == campaign_id)
    )
    existing: dict[str, tuple[Item, str]] = {item.code: (item, title) for item, title in rows}
    answered = dict(
        (
            await session.execute(
                select(Answer.item_id, func.count())
                .join(Item, Item.id == Answer.item_id)
                .where(Item.campaign_id == campaign_id, Answer.value.is_not(None))
                .group_by(Answer.item_id)
            )
        ).all()
    )
    changes = []
    for section in spec.sections:
        for item in section.items:
            found = existing.pop(item.code, None)
            if found is None:
                changes.append(Change("added", item.code, item.text))
                continue
            old, title = found
            new = _item_values(item, section.title)
            stored = {key: getattr(old, key) for key in new if key != "section"}
            fields = _diff({"section": title, **stored}, new)
            if fields:
                # A new type drops the item's answers (the importer's item_type_changed).
                lost = int(answered.get(old.id, 0)) if "type" in fields else 0
                changes.append(Change("changed", item.code, item.text, fields, answers=lost))
    changes += [
        Change("removed", code, old.text, answers=int(answered.get(old.id, 0)))
        for code, (old, _) in existing.items()
    ]
    return changes
