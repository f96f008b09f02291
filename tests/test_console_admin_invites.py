"""Invite codes on the console: the list, revoke and reissue through the CLI's services,
and the printable sheet with a QR code (segno's SVG) per code not used yet.

Real databases on both backends; the codes are redeemed back through the service the
chat's /start uses.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import transaction
from storage.db.models import Invite, Membership, Person
from storage.services.invite_codes import format_code
from storage.services.invites import RedeemOutcome, list_invites, redeem_invite
from tests.console_admin_world import BOT, ZALO_LINK, World, make_world


@pytest.fixture
async def world(db, clock, tmp_path: Path):
    async for made in make_world(db, clock, tmp_path):
        yield made


async def _live_codes(world: World) -> list[str]:
    async with transaction(world.db.sessions) as session:
        rows = await list_invites(session, world.campaign_id, now=world.clock.now())
    return [r.code for r in rows if r.state == "live"]


def _cards(html: str) -> dict[str, str]:
    return dict(
        re.findall(r'<article class="card" data-code="([^"]+)">(.*?)</article>', html, re.S)
    )


async def test_the_list_shows_every_code_with_its_state(world: World) -> None:
    html = await (await world.clients["admin"].get(f"/admin/c/{world.campaign_id}/invites")).text()
    states = dict(re.findall(r'<tr data-code="([^"]+)" data-state="([^"]+)">', html))
    assert states[world.codes["U1"][0]] == "used"  # the contact joined with it
    assert states[world.codes["U1"][1]] == "live"
    assert len(states) == 4 + 3  # U1 two contacts, U2, U3; D1 leader + member, D2 leader
    row = re.search(rf'data-code="{world.codes["U1"][0]}".*?</tr>', html, re.S)
    assert row, html
    assert "Đầu Mối" in row.group(0) and "01/10/2021" in row.group(0)
    assert format_code(world.codes["U1"][0]) in row.group(0)


async def test_the_sheet_has_a_qr_code_and_the_deep_link_per_live_code(world: World) -> None:
    html = await (
        await world.clients["admin"].get(f"/admin/c/{world.campaign_id}/invites/sheet")
    ).text()
    cards = _cards(html)
    live = await _live_codes(world)
    assert set(cards) == set(live) and len(live) == 4  # the 3 used codes are not printed
    for code, card in cards.items():
        assert f"https://t.me/{BOT}?start={code}" in card
        assert len(re.findall(r'<svg [^>]*class="qr"', card)) == 2  # Telegram and Zalo
        assert ZALO_LINK in card
        assert format_code(code) in card
    assert "@media print" in await (await world.clients["admin"].get("/static/admin.css")).text()


async def test_without_a_bot_username_the_sheet_shows_the_code_only(
    db, clock, tmp_path: Path
) -> None:
    async for world in make_world(db, clock, tmp_path, bot_username=None):
        html = await (
            await world.clients["admin"].get(f"/admin/c/{world.campaign_id}/invites/sheet")
        ).text()
        cards = _cards(html)
        assert cards and all("t.me/" not in card for card in cards.values())
        assert all(len(re.findall(r'<svg [^>]*class="qr"', c)) == 1 for c in cards.values())
        assert all(format_code(code) in card for code, card in cards.items())
        assert "Gửi /start kèm mã này" in html


async def _person(world: World, name: str) -> Person:
    async with transaction(world.db.sessions) as session:
        person = await session.scalar(select(Person).where(Person.full_name == name))
        assert person is not None
        return person


async def test_revoke_makes_the_code_unusable(world: World) -> None:
    code = world.codes["U2"][0]
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    response = await admin.post(
        f"/admin/c/{world.campaign_id}/invites/revoke",
        data={"csrf": csrf, "code": code},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await admin.get(response.headers["Location"])).text()
    assert "Đã thu hồi mã." in page
    stranger = await _person(world, "Thành Viên")
    async with transaction(world.db.sessions) as session:
        person = await session.get(Person, stranger.id)
        assert person is not None
        result = await redeem_invite(session, code, person, now=world.clock.now())
    assert result.outcome == RedeemOutcome.REVOKED
    again = await admin.post(
        f"/admin/c/{world.campaign_id}/invites/revoke",
        data={"csrf": csrf, "code": code},
        allow_redirects=False,
    )
    assert again.headers["Location"].endswith("error=already_revoked")


async def test_reissue_revokes_a_used_code_and_gives_its_unit_a_new_one(world: World) -> None:
    used = world.codes["U1"][0]
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    before = set(await _live_codes(world))
    response = await admin.post(
        f"/admin/c/{world.campaign_id}/invites/reissue",
        data={"csrf": csrf, "code": used},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"].endswith("done=reissued")
    new = set(await _live_codes(world)) - before
    assert len(new) == 1
    async with transaction(world.db.sessions) as session:
        old = await session.scalar(select(Invite).where(Invite.code == used))
        fresh = await session.scalar(select(Invite).where(Invite.code == new.pop()))
        assert old is not None and fresh is not None
        assert old.revoked_at is not None
        assert (fresh.assignment_id, fresh.role) == (old.assignment_id, old.role)
        membership = await session.scalar(select(Membership).where(Membership.invite_id == old.id))
    assert membership is not None and membership.revoked_at is not None  # the role it gave ends


async def test_a_code_of_another_campaign_is_not_touched(world: World) -> None:
    admin, csrf = world.clients["admin"], world.csrf["admin"]
    response = await admin.post(
        f"/admin/c/{world.campaign_id}/invites/revoke",
        data={"csrf": csrf, "code": "0000000000000"},
        allow_redirects=False,
    )
    assert response.headers["Location"].endswith("error=unknown_code")
    page = await (await admin.get(response.headers["Location"])).text()
    assert "Không có mã này trong đợt kiểm tra." in page
