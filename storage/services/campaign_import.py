"""Write a validated CampaignSpec into the database: create, or update in place.

Re-importing an edited file never loses answers silently: items are matched by code and
units by code; removing an item or a unit that has answers, or changing the type of an
answered item, needs `force=True`, and the `Loss` list says exactly what goes. Bulk
statements keep a 10,000-unit campaign import within seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db.models import (
    Answer,
    Assignment,
    Campaign,
    CampaignFollowUp,
    Invite,
    Item,
    Membership,
    Section,
    Submission,
    Team,
    Unit,
)
from storage.formats.campaign_spec import (
    CampaignSpec,
    ItemSpec,
    UnitSpec,
    policy_to_dict,
    scoring_to_dict,
)
from storage.services import audit
from storage.services.invites import ensure_invite_slots

CHUNK = 500  # rows per IN (...) list: well under SQLite's variable limit


@dataclass(frozen=True)
class Loss:
    """Something a re-import would delete: `kind` is item_removed, item_type_changed,
    unit_removed or team_removed; `count` the answers (or linked people) that go with it."""

    kind: str
    code: str
    count: int


class RemovalNeedsForce(Exception):
    def __init__(self, losses: Sequence[Loss]) -> None:
        super().__init__(f"{len(losses)} removals would lose answers; use --force")
        self.losses = list(losses)


class UnknownFollowUp(Exception):
    """`follow_up:` names no campaign in the database (or the campaign itself)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"no earlier campaign {code}")
        self.code = code


@dataclass
class ImportResult:
    campaign_id: int
    created: bool
    counts: dict[str, int] = field(default_factory=dict)
    losses: list[Loss] = field(default_factory=list)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


async def import_campaign(
    session: AsyncSession,
    spec: CampaignSpec,
    *,
    now: datetime,
    force: bool = False,
    invite_ttl: timedelta = timedelta(days=30),
    source_name: str = "",
    actor_label: str = "cli",
) -> ImportResult:
    """Create or update the campaign `spec.code`. The caller owns the transaction: on
    RemovalNeedsForce (or any error) it rolls back and nothing is written."""
    campaign, created = await _upsert_campaign(session, spec, now, source_name)
    await link_follow_up(session, campaign, spec)
    result = ImportResult(campaign_id=campaign.id, created=created)
    teams = await _sync_teams(session, campaign, spec, result)
    unit_ids = await _upsert_units(session, spec.units)
    await _sync_assignments(session, campaign, spec, teams, unit_ids, result)
    await _remove_stale_teams(session, campaign.id, {t.code for t in spec.teams})
    await _sync_checklist(session, campaign, spec, result)
    if result.losses and not force:
        raise RemovalNeedsForce(result.losses)
    await _create_missing_submissions(session, campaign.id, now)
    result.counts["invites_created"] = await ensure_invite_slots(
        session, campaign.id, now=now, ttl=invite_ttl
    )
    await audit.record(
        session,
        now=now,
        action="campaign.import",
        campaign_id=campaign.id,
        actor_label=actor_label,
        subject=spec.code,
        details={
            "created": created,
            "source": source_name,
            **result.counts,
            "losses": [loss.__dict__ for loss in result.losses],
        },
    )
    return result


async def _upsert_campaign(
    session: AsyncSession, spec: CampaignSpec, now: datetime, source_name: str
) -> tuple[Campaign, bool]:
    campaign = await session.scalar(select(Campaign).where(Campaign.code == spec.code))
    created = campaign is None
    if campaign is None:
        campaign = Campaign(code=spec.code, created_at=now)
        session.add(campaign)
    campaign.title = spec.title
    campaign.basis = spec.basis
    campaign.timezone = spec.timezone
    campaign.deadline = spec.deadline
    campaign.policy = {**policy_to_dict(spec.policy), **scoring_to_dict(spec.scoring)}
    campaign.source_name = source_name
    campaign.updated_at = now
    await session.flush()
    return campaign, created


async def _sync_teams(
    session: AsyncSession, campaign: Campaign, spec: CampaignSpec, result: ImportResult
) -> dict[str, int]:
    existing = {
        team.code: team
        for team in await session.scalars(select(Team).where(Team.campaign_id == campaign.id))
    }
    for team_spec in spec.teams:
        team = existing.pop(team_spec.code, None)
        if team is None:
            team = Team(campaign_id=campaign.id, code=team_spec.code)
            session.add(team)
        team.name = team_spec.name
        team.leader_slots = team_spec.leaders
        team.member_slots = team_spec.members
    await session.flush()
    for code, team in existing.items():  # teams no longer in the file: see _remove_stale_teams
        people = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.team_id == team.id, Membership.revoked_at.is_(None))
        )
        if people:
            result.losses.append(Loss("team_removed", code, int(people)))
    result.counts["teams"] = len(spec.teams)
    return {
        team.code: team.id
        for team in await session.scalars(select(Team).where(Team.campaign_id == campaign.id))
    }


async def _remove_stale_teams(session: AsyncSession, campaign_id: int, keep: set[str]) -> None:
    """Runs after the assignments moved to the file's teams, so no unit points at them."""
    stale = list(
        await session.scalars(
            select(Team.id).where(Team.campaign_id == campaign_id, Team.code.not_in(keep))
        )
    )
    if not stale:
        return
    await session.execute(delete(Membership).where(Membership.team_id.in_(stale)))
    await session.execute(delete(Invite).where(Invite.team_id.in_(stale)))
    await session.execute(delete(Team).where(Team.id.in_(stale)))


async def _upsert_units(session: AsyncSession, units: Sequence[UnitSpec]) -> dict[str, int]:
    """Units are shared across campaigns (a ministry keeps its code from year to year)."""
    codes = [unit.code for unit in units]
    known: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(codes):
        named = await session.execute(
            select(Unit.code, Unit.id, Unit.name).where(Unit.code.in_(chunk))
        )
        known.update({code: (uid, name) for code, uid, name in named})
    new_rows = [{"code": u.code, "name": u.name} for u in units if u.code not in known]
    renamed = [
        {"id": known[u.code][0], "name": u.name}
        for u in units
        if u.code in known and known[u.code][1] != u.name
    ]
    if new_rows:
        await session.execute(insert(Unit), new_rows)
    if renamed:
        await session.execute(update(Unit), renamed)
    ids: dict[str, int] = {}
    for chunk in _chunks(codes):
        found = await session.execute(select(Unit.code, Unit.id).where(Unit.code.in_(chunk)))
        ids.update({code: unit_id for code, unit_id in found})
    return ids


def _assignment_values(unit: UnitSpec, team_id: int, position: int) -> dict[str, Any]:
    visit = unit.visit
    return {
        "team_id": team_id,
        "form": unit.form.value,
        "deadline": unit.deadline,
        "visit_at": visit.at if visit else None,
        "visit_place": visit.place if visit else None,
        "visit_announced": visit.announced if visit else True,
        "contact_slots": unit.contacts,
        "position": position,
    }


async def _sync_assignments(
    session: AsyncSession,
    campaign: Campaign,
    spec: CampaignSpec,
    teams: dict[str, int],
    unit_ids: dict[str, int],
    result: ImportResult,
) -> None:
    rows = await session.execute(
        select(Assignment.unit_id, Assignment.id).where(Assignment.campaign_id == campaign.id)
    )
    existing: dict[int, int] = dict(rows.all())
    inserts, updates = [], []
    for position, unit in enumerate(spec.units):
        values = _assignment_values(unit, teams[unit.team], position)
        unit_id = unit_ids[unit.code]
        if unit_id in existing:
            updates.append({"id": existing.pop(unit_id), **values})
        else:
            inserts.append({"campaign_id": campaign.id, "unit_id": unit_id, **values})
    if inserts:
        await session.execute(insert(Assignment), inserts)
    if updates:
        await session.execute(update(Assignment), updates)
    await _remove_assignments(session, list(existing.values()), result)
    result.counts["units"] = len(spec.units)


async def _remove_assignments(
    session: AsyncSession, assignment_ids: list[int], result: ImportResult
) -> None:
    if not assignment_ids:
        return
    counts = await session.execute(
        select(Unit.code, func.count(Answer.id))
        .select_from(Assignment)
        .join(Unit, Unit.id == Assignment.unit_id)
        .join(Submission, Submission.assignment_id == Assignment.id)
        .join(Answer, Answer.submission_id == Submission.id)
        .where(Assignment.id.in_(assignment_ids))
        .group_by(Unit.code)
    )
    for code, count in counts:
        result.losses.append(Loss("unit_removed", code, int(count)))
    # Cascades remove the submission, its answers, evidence rows, invites and memberships.
    await session.execute(delete(Assignment).where(Assignment.id.in_(assignment_ids)))


async def _sync_checklist(
    session: AsyncSession, campaign: Campaign, spec: CampaignSpec, result: ImportResult
) -> None:
    section_ids = await _sync_sections(session, campaign.id, [s.title for s in spec.sections])
    existing = {
        item.code: item
        for item in await session.scalars(select(Item).where(Item.campaign_id == campaign.id))
    }
    answered = await _answer_counts(session, [item.id for item in existing.values()])
    position = 0
    for section_index, section in enumerate(spec.sections):
        for item_spec in section.items:
            values = _item_values(item_spec, section_ids[section_index], position)
            position += 1
            item = existing.pop(item_spec.code, None)
            if item is None:
                session.add(Item(campaign_id=campaign.id, **values))
                continue
            if item.type != item_spec.type.value and answered.get(item.id):
                result.losses.append(Loss("item_type_changed", item.code, answered[item.id]))
                await session.execute(delete(Answer).where(Answer.item_id == item.id))
            for key, value in values.items():
                setattr(item, key, value)
    for code, item in existing.items():  # items no longer in the file
        if answered.get(item.id):
            result.losses.append(Loss("item_removed", code, answered[item.id]))
        await session.delete(item)
    await session.flush()
    await session.execute(
        delete(Section).where(Section.campaign_id == campaign.id, Section.id.not_in(section_ids))
    )
    result.counts["items"] = position


async def _sync_sections(session: AsyncSession, campaign_id: int, titles: list[str]) -> list[int]:
    """Sections have no code: they are matched by position and renamed in place."""
    sections = list(
        await session.scalars(
            select(Section).where(Section.campaign_id == campaign_id).order_by(Section.position)
        )
    )
    for index, title in enumerate(titles):
        if index < len(sections):
            sections[index].title = title
            sections[index].position = index
        else:
            sections.append(Section(campaign_id=campaign_id, position=index, title=title))
            session.add(sections[-1])
    await session.flush()
    return [section.id for section in sections[: len(titles)]]


def _item_values(spec: ItemSpec, section_id: int, position: int) -> dict[str, Any]:
    return {
        "section_id": section_id,
        "position": position,
        "code": spec.code,
        "text": spec.text,
        "help": spec.help,
        "type": spec.type.value,
        "options": list(spec.options),
        "required": spec.required,
        "evidence": spec.evidence.value,
        "points": spec.points,
        "scoring": spec.scoring,
        "min": spec.min,
        "max": spec.max,
        "max_length": spec.max_length,
    }


async def _answer_counts(session: AsyncSession, item_ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in _chunks(item_ids):
        rows = await session.execute(
            select(Answer.item_id, func.count())
            .where(Answer.item_id.in_(chunk), Answer.value.is_not(None))
            .group_by(Answer.item_id)
        )
        counts.update(dict(rows.all()))
    return counts


async def _create_missing_submissions(
    session: AsyncSession, campaign_id: int, now: datetime
) -> None:
    missing = await session.scalars(
        select(Assignment.id)
        .outerjoin(Submission, Submission.assignment_id == Assignment.id)
        .where(Assignment.campaign_id == campaign_id, Submission.id.is_(None))
    )
    rows = [{"assignment_id": aid, "updated_at": now} for aid in missing]
    if rows:
        await session.execute(insert(Submission), rows)


async def link_follow_up(session: AsyncSession, campaign: Campaign, spec: CampaignSpec) -> None:
    """Record (or drop) the earlier campaign this one follows up and the items answered
    from it; raises UnknownFollowUp for a code that is not another known campaign."""
    link = await session.get(CampaignFollowUp, campaign.id)
    if spec.follow_up is None:
        if link is not None:
            await session.delete(link)
        return
    earlier = await session.scalar(
        select(Campaign).where(func.lower(Campaign.code) == spec.follow_up.lower())
    )
    if earlier is None or earlier.id == campaign.id:
        raise UnknownFollowUp(spec.follow_up)
    sources = {item.code: item.answer_from for item in spec.items() if item.answer_from}
    if link is None:
        link = CampaignFollowUp(campaign_id=campaign.id, earlier_campaign_id=earlier.id)
        session.add(link)
    link.earlier_campaign_id, link.answer_from = earlier.id, sources
