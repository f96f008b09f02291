"""Importing a campaign creates everything; re-importing updates in place and keeps answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from common.clock import FrozenClock
from storage.db import transaction
from storage.db.models import (
    Answer,
    Assignment,
    Campaign,
    Invite,
    Item,
    Person,
    Section,
    Submission,
    Team,
    Unit,
)
from storage.formats.campaign_spec import ItemType, SectionSpec, TeamSpec
from storage.services.campaign_import import RemovalNeedsForce, import_campaign
from tests import factories
from tests.conftest import Db


async def _import(db: Db, spec, clock: FrozenClock, **kw):
    async with transaction(db.sessions) as session:
        return await import_campaign(session, spec, now=clock.now(), **kw)


async def _count(db: Db, model) -> int:
    async with db.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _answer_first_item_of_each_unit(db: Db, clock: FrozenClock, code: str = "1.2") -> None:
    async with transaction(db.sessions) as session:
        person = Person(full_name="Nguyễn Văn A", created_at=clock.now())
        session.add(person)
        await session.flush()
        item_id = await session.scalar(select(Item.id).where(Item.code == code))
        for submission_id in await session.scalars(select(Submission.id)):
            session.add(
                Answer(
                    submission_id=submission_id,
                    item_id=item_id,
                    value=True,
                    answered_by=person.id,
                    answered_at=clock.now(),
                )
            )


async def test_import_creates_campaign_units_items_submissions_invites(
    db: Db, clock: FrozenClock
) -> None:
    result = await _import(db, factories.campaign(units=3), clock)
    assert result.created
    assert await _count(db, Campaign) == 1
    assert await _count(db, Unit) == 3
    assert await _count(db, Assignment) == 3
    assert await _count(db, Submission) == 3
    assert await _count(db, Item) == 7
    assert await _count(db, Section) == 3
    # Unit U1 has 2 contact slots, U2 and U3 one each; team D1 one leader and one member.
    assert await _count(db, Invite) == 4 + 2
    async with db.sessions() as session:
        positions = list(await session.scalars(select(Item.code).order_by(Item.position)))
        assert positions == ["1.1", "1.2", "1.3", "5.2", "7.3", "7.4", "9.1"]
        u2 = await session.scalar(select(Assignment).join(Unit).where(Unit.code == "U2"))
        assert u2 is not None and u2.deadline == factories.DEADLINE - timedelta(days=2)
        assert u2.visit_place == "Trụ sở UBND" and u2.visit_announced


async def test_reimport_same_file_changes_nothing_and_adds_no_codes(
    db: Db, clock: FrozenClock
) -> None:
    await _import(db, factories.campaign(), clock)
    clock.advance(timedelta(hours=1))
    result = await _import(db, factories.campaign(), clock)
    assert not result.created
    assert result.counts["invites_created"] == 0
    assert await _count(db, Invite) == 6
    assert await _count(db, Item) == 7


async def test_reimport_edited_file_keeps_answers(db: Db, clock: FrozenClock) -> None:
    spec = factories.campaign()
    await _import(db, spec, clock)
    await _answer_first_item_of_each_unit(db, clock)
    first = spec.sections[0]
    edited_item = replace(first.items[1], text="Kế hoạch đầy đủ nhiệm vụ (sửa)", points=2)
    new_item = replace(first.items[0], code="1.9", text="Mục mới")
    edited = replace(
        spec,
        title="Tên mới",
        sections=(
            replace(first, items=(first.items[0], edited_item, new_item, first.items[2])),
            *spec.sections[1:],
        ),
    )
    await _import(db, edited, clock)
    assert await _count(db, Answer) == 3
    async with db.sessions() as session:
        item = await session.scalar(select(Item).where(Item.code == "1.2"))
        assert item is not None and item.points == 2 and "sửa" in item.text
        assert (await session.scalar(select(Campaign.title))) == "Tên mới"
        codes = list(await session.scalars(select(Item.code).order_by(Item.position)))
        assert codes[:4] == ["1.1", "1.2", "1.9", "1.3"]


async def test_removing_an_answered_item_needs_force_and_writes_nothing(
    db: Db, clock: FrozenClock
) -> None:
    spec = factories.campaign()
    await _import(db, spec, clock)
    await _answer_first_item_of_each_unit(db, clock)
    first = spec.sections[0]
    without = replace(
        spec,
        title="Changed",
        sections=(replace(first, items=(first.items[0], first.items[2])), *spec.sections[1:]),
    )
    with pytest.raises(RemovalNeedsForce) as refused:
        await _import(db, without, clock)
    assert [(x.kind, x.code, x.count) for x in refused.value.losses] == [("item_removed", "1.2", 3)]
    async with db.sessions() as session:
        assert await session.scalar(select(Campaign.title)) != "Changed"
    assert await _count(db, Answer) == 3
    result = await _import(db, without, clock, force=True)
    assert [x.code for x in result.losses] == ["1.2"]
    assert await _count(db, Answer) == 0
    assert await _count(db, Item) == 6


async def test_changing_the_type_of_an_answered_item_needs_force(
    db: Db, clock: FrozenClock
) -> None:
    spec = factories.campaign()
    await _import(db, spec, clock)
    await _answer_first_item_of_each_unit(db, clock)
    first = spec.sections[0]
    retyped = replace(first.items[1], type=ItemType.PERCENT, scoring=None, points=0)
    changed = replace(
        spec,
        sections=(
            replace(first, items=(first.items[0], retyped, first.items[2])),
            *spec.sections[1:],
        ),
    )
    with pytest.raises(RemovalNeedsForce) as refused:
        await _import(db, changed, clock)
    assert refused.value.losses[0].kind == "item_type_changed"


async def test_removing_an_unanswered_unit_and_a_section(db: Db, clock: FrozenClock) -> None:
    spec = factories.campaign(units=3)
    await _import(db, spec, clock)
    smaller = replace(spec, units=spec.units[:2], sections=spec.sections[:2])
    result = await _import(db, smaller, clock)
    assert result.losses == []
    assert await _count(db, Assignment) == 2
    assert await _count(db, Submission) == 2
    assert await _count(db, Section) == 2
    assert await _count(db, Unit) == 3  # units are shared across campaigns: kept


async def test_removing_an_answered_unit_needs_force(db: Db, clock: FrozenClock) -> None:
    spec = factories.campaign(units=3)
    await _import(db, spec, clock)
    await _answer_first_item_of_each_unit(db, clock)
    with pytest.raises(RemovalNeedsForce) as refused:
        await _import(db, replace(spec, units=spec.units[:2]), clock)
    assert [(x.kind, x.code) for x in refused.value.losses] == [("unit_removed", "U3")]


async def test_moving_units_to_a_new_team_and_dropping_the_old_one(
    db: Db, clock: FrozenClock
) -> None:
    spec = factories.campaign()
    await _import(db, spec, clock)
    moved = replace(
        spec,
        teams=(TeamSpec("D2", "Đoàn số 2"),),
        units=tuple(replace(u, team="D2") for u in spec.units),
    )
    await _import(db, moved, clock)
    async with db.sessions() as session:
        assert list(await session.scalars(select(Team.code))) == ["D2"]


async def test_fewer_contact_slots_revoke_unused_codes(db: Db, clock: FrozenClock) -> None:
    spec = factories.campaign()
    await _import(db, spec, clock)
    fewer = replace(spec, units=(replace(spec.units[0], contacts=1), *spec.units[1:]))
    await _import(db, fewer, clock)
    async with db.sessions() as session:
        live = await session.scalar(
            select(func.count()).select_from(Invite).where(Invite.revoked_at.is_(None))
        )
        assert live == 5


async def test_two_campaigns_share_units(db: Db, clock: FrozenClock) -> None:
    await _import(db, factories.campaign("KT-A"), clock)
    await _import(
        db, factories.campaign("KT-B", sections=(SectionSpec("Một", factories.items()),)), clock
    )
    assert await _count(db, Unit) == 3
    assert await _count(db, Assignment) == 6
