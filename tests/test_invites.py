"""Invite codes: unguessable, typed loosely, single-use, expiring, revocable, reissuable."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from common.clock import FrozenClock
from storage.db import transaction
from storage.db.models import Campaign, Membership, Person, Role
from storage.services.campaign_import import import_campaign
from storage.services.invite_codes import ALPHABET, LENGTH, format_code, new_code, normalize_code
from storage.services.invites import (
    InviteError,
    RedeemOutcome,
    list_invites,
    new_invite,
    redeem_invite,
    revoke_invite,
)
from tests import factories
from tests.conftest import Db


def test_codes_carry_at_least_64_random_bits_and_are_url_safe() -> None:
    assert LENGTH * math.log2(len(ALPHABET)) >= 64
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == LENGTH and set(c) <= set(ALPHABET) for c in codes)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("7kq2-m9xd-3hva-p", "7KQ2M9XD3HVAP"),
        (" 7KQ2 M9XD 3HVA P ", "7KQ2M9XD3HVAP"),
        ("OIL", "011"),  # look-alikes read from paper
    ],
)
def test_typed_codes_are_normalised(typed: str, expected: str) -> None:
    assert normalize_code(typed) == expected


def test_codes_are_grouped_for_paper() -> None:
    assert format_code("7KQ2M9XD3HVAP") == "7KQ2-M9XD-3HVA-P"


async def _setup(db: Db, clock: FrozenClock) -> tuple[int, list[str], Person, Person]:
    async with transaction(db.sessions) as session:
        result = await import_campaign(session, factories.campaign(), now=clock.now())
        rows = await list_invites(session, result.campaign_id, now=clock.now())
        people = [Person(full_name=n, created_at=clock.now()) for n in ("Lan", "Minh")]
        session.add_all(people)
        await session.flush()
    return result.campaign_id, [r.code for r in rows if r.unit_code == "U1"], *people


async def test_listing_has_team_codes_first_then_units(db: Db, clock: FrozenClock) -> None:
    async with transaction(db.sessions) as session:
        result = await import_campaign(session, factories.campaign(), now=clock.now())
        rows = await list_invites(
            session, result.campaign_id, now=clock.now(), bot_username="cchc_bot"
        )
    assert [(r.role, r.unit_code, r.team_code) for r in rows] == [
        ("team_leader", None, "D1"),
        ("team_member", None, "D1"),
        ("unit_contact", "U1", "D1"),
        ("unit_contact", "U1", "D1"),
        ("unit_contact", "U2", "D1"),
        ("unit_contact", "U3", "D1"),
    ]
    assert rows[0].link == f"https://t.me/cchc_bot?start={rows[0].code}"


async def test_redeem_outcomes(db: Db, clock: FrozenClock) -> None:
    _, codes, lan, minh = await _setup(db, clock)
    async with transaction(db.sessions) as session:
        first = await redeem_invite(session, codes[0].lower(), lan, now=clock.now())
        assert first.outcome == RedeemOutcome.OK and first.membership is not None
        assert first.membership.role == Role.UNIT_CONTACT
        again = await redeem_invite(session, codes[0], lan, now=clock.now())
        assert again.outcome == RedeemOutcome.ALREADY_YOURS
        other = await redeem_invite(session, codes[0], minh, now=clock.now())
        assert other.outcome == RedeemOutcome.USED
        unknown = await redeem_invite(session, "AAAAAAAAAAAAA", minh, now=clock.now())
        assert unknown.outcome == RedeemOutcome.UNKNOWN
    clock.advance(timedelta(days=31))
    async with transaction(db.sessions) as session:
        expired = await redeem_invite(session, codes[1], minh, now=clock.now())
        assert expired.outcome == RedeemOutcome.EXPIRED


async def test_revoking_a_used_code_ends_the_role_and_a_new_code_fills_the_slot(
    db: Db, clock: FrozenClock
) -> None:
    campaign_id, codes, lan, minh = await _setup(db, clock)
    async with transaction(db.sessions) as session:
        await redeem_invite(session, codes[0], lan, now=clock.now())
        await revoke_invite(session, codes[0], now=clock.now())
        membership = await session.scalar(select(Membership))
        assert membership is not None and membership.revoked_at is not None
        revoked = await redeem_invite(session, codes[1], minh, now=clock.now())
        assert revoked.outcome == RedeemOutcome.OK  # the other slot's code still works
        with pytest.raises(InviteError) as already:
            await revoke_invite(session, codes[0], now=clock.now())
        assert already.value.reason == "already_revoked"
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        fresh = await new_invite(
            session,
            campaign,
            Role.UNIT_CONTACT,
            unit_code="U1",
            now=clock.now(),
            ttl=timedelta(days=30),
        )
        assert fresh.slot == 1 and fresh.code not in codes
        with pytest.raises(InviteError) as bad_unit:
            await new_invite(
                session,
                campaign,
                Role.UNIT_CONTACT,
                unit_code="NOPE",
                now=clock.now(),
                ttl=timedelta(days=30),
            )
        assert bad_unit.value.reason == "unknown_unit"


async def test_admin_invite_makes_an_admin(db: Db, clock: FrozenClock) -> None:
    campaign_id, _, lan, _ = await _setup(db, clock)
    async with transaction(db.sessions) as session:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        invite = await new_invite(
            session, campaign, Role.ADMIN, now=clock.now(), ttl=timedelta(days=1)
        )
        person = await session.get(Person, lan.id)
        assert person is not None and not person.is_admin
        result = await redeem_invite(session, invite.code, person, now=clock.now())
        assert result.outcome == RedeemOutcome.OK
    async with db.sessions() as session:
        assert (await session.get(Person, lan.id)).is_admin
